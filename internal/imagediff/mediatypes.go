package imagediff

import (
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker (schema 2) media types. Each has an OCI twin that describes the same
// bytes; which of the two an exporter writes is a matter of flavour.
const (
	mtDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	mtDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtDockerLayerZstd    = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	mtDockerForeignGzip  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// Object classes a media type can name.
const (
	classIndex    = "index"
	classManifest = "manifest"
	classConfig   = "config"
	classLayer    = "layer"
	classOther    = "other"
)

// Compressions of a layer.
const (
	compNone = "none"
	compGzip = "gzip"
	compZstd = "zstd"
)

// mediaType is what a media type string says about the object it names.
type mediaType struct {
	class       string // classIndex … classOther
	flavour     string // "docker", "oci" or "" when unknown
	compression string // layers only: compNone, compGzip, compZstd
	foreign     bool   // non-distributable layer
}

func parseMediaType(mt string) mediaType {
	switch mt {
	case mtDockerManifestList:
		return mediaType{class: classIndex, flavour: "docker"}
	case ocispec.MediaTypeImageIndex:
		return mediaType{class: classIndex, flavour: "oci"}
	case mtDockerManifest:
		return mediaType{class: classManifest, flavour: "docker"}
	case ocispec.MediaTypeImageManifest:
		return mediaType{class: classManifest, flavour: "oci"}
	case mtDockerConfig:
		return mediaType{class: classConfig, flavour: "docker"}
	case ocispec.MediaTypeImageConfig:
		return mediaType{class: classConfig, flavour: "oci"}
	case mtDockerLayer:
		return mediaType{class: classLayer, flavour: "docker", compression: compNone}
	case mtDockerLayerGzip:
		return mediaType{class: classLayer, flavour: "docker", compression: compGzip}
	case mtDockerLayerZstd:
		return mediaType{class: classLayer, flavour: "docker", compression: compZstd}
	case mtDockerForeignGzip:
		return mediaType{class: classLayer, flavour: "docker", compression: compGzip, foreign: true}
	case ocispec.MediaTypeImageLayer:
		return mediaType{class: classLayer, flavour: "oci", compression: compNone}
	case ocispec.MediaTypeImageLayerGzip:
		return mediaType{class: classLayer, flavour: "oci", compression: compGzip}
	case ocispec.MediaTypeImageLayerZstd:
		return mediaType{class: classLayer, flavour: "oci", compression: compZstd}
	case ocispec.MediaTypeImageLayerNonDistributable: //nolint:staticcheck // still found in old images
		return mediaType{class: classLayer, flavour: "oci", compression: compNone, foreign: true}
	case ocispec.MediaTypeImageLayerNonDistributableGzip: //nolint:staticcheck
		return mediaType{class: classLayer, flavour: "oci", compression: compGzip, foreign: true}
	case ocispec.MediaTypeImageLayerNonDistributableZstd: //nolint:staticcheck
		return mediaType{class: classLayer, flavour: "oci", compression: compZstd, foreign: true}
	}
	return mediaType{class: classOther}
}

func isIndexType(mt string) bool    { return parseMediaType(mt).class == classIndex }
func isManifestType(mt string) bool { return parseMediaType(mt).class == classManifest }

// isTarLayer reports whether a layer media type names a tar stream.
func isTarLayer(mt string) bool { return parseMediaType(mt).class == classLayer }

// isJSONType reports whether a media type names a JSON document (for
// instance the in-toto statements of attestation manifests).
func isJSONType(mt string) bool {
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "/json")
}

// mediaTypeRelation tells how two media types of the same field relate.
type mediaTypeRelation int

const (
	mtUnrelated   mediaTypeRelation = iota // different kinds of object
	mtFlavour                              // docker vs OCI spelling of the same thing
	mtCompression                          // the same layer kind, compressed differently
)

func relateMediaTypes(a, b string) mediaTypeRelation {
	pa, pb := parseMediaType(a), parseMediaType(b)
	if pa.class == classOther || pb.class == classOther || pa.class != pb.class || pa.foreign != pb.foreign {
		return mtUnrelated
	}
	if pa.compression != pb.compression {
		return mtCompression
	}
	if pa.flavour != pb.flavour {
		return mtFlavour
	}
	return mtUnrelated
}
