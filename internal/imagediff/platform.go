package imagediff

import (
	"reflect"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// normalPlatform is p as containerd's platforms package normalizes it
// (platforms.Normalize: arm64/v8 = arm64, amd64/v1 = amd64, aarch64 =
// arm64, arm = arm/v7, …), the spelling internal/cell uses for matrix.yaml.
func normalPlatform(p ocispec.Platform) ocispec.Platform {
	n := platforms.Normalize(p)
	n.OSVersion, n.OSFeatures = p.OSVersion, p.OSFeatures
	return n
}

// platformKey is the key manifests are paired by: the normalized platform,
// "os/arch[/variant][:os.version]", or "unknown platform" for none.
// linux/arm64/v8 and linux/arm64 have one key, linux/arm64 (issue 10,
// point 2; oras-project/oras-go#993).
func platformKey(p *ocispec.Platform) string {
	if p == nil {
		return "unknown platform"
	}
	n := normalPlatform(*p)
	if n.OS == "" && n.Architecture == "" {
		return "unknown platform"
	}
	k := n.OS + "/" + n.Architecture
	if n.Variant != "" {
		k += "/" + n.Variant
	}
	if n.OSVersion != "" {
		k += ":" + n.OSVersion
	}
	return k
}

// platformString renders a platform as its descriptor spells it, features
// included: "linux/arm64/v8", "windows/amd64:10.0.17763 [win32k]".
func platformString(p *ocispec.Platform) string {
	k := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		k += "/" + p.Variant
	}
	if p.OSVersion != "" {
		k += ":" + p.OSVersion
	}
	if len(p.OSFeatures) > 0 {
		k += " [" + strings.Join(p.OSFeatures, ",") + "]"
	}
	return k
}

func platformOrNil(p *ocispec.Platform) any {
	if p == nil {
		return nil
	}
	return platformString(p)
}

// comparePlatform compares the platform fields of two descriptors. Two
// platforms that normalize differently (another os or architecture) are one
// semantic difference of the whole field. Two that normalize alike are
// compared field by field: a spelling of the same os, architecture or
// variant (linux/arm64/v8 vs linux/arm64) is a descriptor difference no
// container sees; os.version and os.features, which select images on
// Windows, stay semantic.
func (d *differ) comparePlatform(nb *nodeB, field string, a, b *ocispec.Platform) {
	if a == nil || b == nil {
		if a != b {
			d.add(nb, Difference{Kind: KindPlatform, Field: field, A: platformOrNil(a), B: platformOrNil(b), Semantic: true})
		}
		return
	}
	if reflect.DeepEqual(*a, *b) {
		return
	}
	na, nbp := normalPlatform(*a), normalPlatform(*b)
	if na.OS != nbp.OS || na.Architecture != nbp.Architecture || na.Variant != nbp.Variant {
		d.add(nb, Difference{Kind: KindPlatform, Field: field, A: platformString(a), B: platformString(b), Semantic: true})
		return
	}
	same := "one platform once normalized as containerd does: " + platformKey(a)
	for _, f := range []struct{ name, a, b string }{
		{"os", a.OS, b.OS}, {"architecture", a.Architecture, b.Architecture}, {"variant", a.Variant, b.Variant},
	} {
		if f.a != f.b {
			d.add(nb, Difference{Kind: KindPlatform, Field: field + "." + f.name,
				A: strOrNil(f.a, f.a != ""), B: strOrNil(f.b, f.b != ""), Note: same})
		}
	}
	if a.OSVersion != b.OSVersion {
		d.add(nb, Difference{Kind: KindPlatform, Field: field + ".os.version",
			A: strOrNil(a.OSVersion, a.OSVersion != ""), B: strOrNil(b.OSVersion, b.OSVersion != ""), Semantic: true})
	}
	if !slices.Equal(a.OSFeatures, b.OSFeatures) {
		d.add(nb, Difference{Kind: KindPlatform, Field: field + ".os.features",
			A: featuresOrNil(a.OSFeatures), B: featuresOrNil(b.OSFeatures), Semantic: true})
	}
}

func featuresOrNil(f []string) any {
	if len(f) == 0 {
		return nil
	}
	return strings.Join(f, ",")
}

// platformFields are the config fields that spell the image's platform.
var platformFields = map[string]bool{"os": true, "architecture": true, "variant": true}

// rawPlatform reads the platform of a decoded image config (os,
// architecture, variant, os.version).
func rawPlatform(raw map[string]any) *ocispec.Platform {
	str := func(k string) string { s, _ := raw[k].(string); return s }
	return &ocispec.Platform{OS: str("os"), Architecture: str("architecture"), Variant: str("variant"), OSVersion: str("os.version")}
}
