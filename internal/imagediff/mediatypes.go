package imagediff

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layer media types that go-containerregistry does not list: moby's zstd
// twin of the docker layer type, and OCI's deprecated non-distributable
// zstd layer, both still found in images.
const (
	mtDockerLayerZstd        types.MediaType = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	mtOCIRestrictedLayerZstd types.MediaType = ocispec.MediaTypeImageLayerNonDistributableZstd //nolint:staticcheck // still found in old images
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
// Each docker (schema 2) type has an OCI twin that describes the same bytes;
// which of the two an exporter writes is a matter of flavour.
type mediaType struct {
	class       string // classIndex … classOther
	flavour     string // "docker", "oci" or "" when unknown
	compression string // layers only: compNone, compGzip, compZstd
	foreign     bool   // non-distributable layer
}

// parseMediaType classifies the media types of images (docker schema 2 and
// OCI); any other string is classOther.
func parseMediaType(s string) mediaType {
	mt := types.MediaType(s)
	var m mediaType
	switch {
	case mt.IsIndex():
		m.class = classIndex
	case mt.IsImage():
		m.class = classManifest
	case mt.IsConfig():
		m.class = classConfig
	case mt.IsLayer() || mt == mtDockerLayerZstd || mt == mtOCIRestrictedLayerZstd:
		m.class = classLayer
		m.compression = layerCompression(s)
		m.foreign = !mt.IsDistributable() || mt == mtOCIRestrictedLayerZstd
	default:
		return mediaType{class: classOther}
	}
	m.flavour = "oci"
	if strings.HasPrefix(s, "application/"+types.DockerVendorPrefix+".") {
		m.flavour = "docker"
	}
	return m
}

// layerCompression reads the compression off a layer media type's suffix
// (".tar.gzip", "+gzip", "+zstd", or none).
func layerCompression(mt string) string {
	switch {
	case strings.HasSuffix(mt, "gzip"):
		return compGzip
	case strings.HasSuffix(mt, "zstd"):
		return compZstd
	}
	return compNone
}

func isIndexType(mt string) bool    { return types.MediaType(mt).IsIndex() }
func isManifestType(mt string) bool { return types.MediaType(mt).IsImage() }

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
