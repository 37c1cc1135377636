package imagediff

import (
	"context"
	"errors"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/repro-matrix/repro-matrix/internal/oci"
)

// absentForeign names the sides ("A", "B") whose layer in descs is a
// non-distributable one whose blob the image lacks: the OCI image layout
// allows that, `repro-matrix analyze` (and so Verify) accepts it unverified,
// and its content cannot be read (Blob fails with oci.ErrNotDistributed).
// Such a pair is compared by its descriptors only.
func (d *differ) absentForeign(ctx context.Context, descs [2]ocispec.Descriptor) string {
	var sides []string
	for side, desc := range descs {
		if !parseMediaType(desc.MediaType).foreign {
			continue
		}
		rc, err := d.src[side].Blob(ctx, desc)
		if err == nil {
			rc.Close()
		}
		if errors.Is(err, oci.ErrNotDistributed) {
			sides = append(sides, sideName(side))
		}
	}
	return strings.Join(sides, " and ")
}

// addNotComparable records a layer pair that cannot be read because a
// non-distributable blob is absent from image(s) sides: its digests differ,
// which counts as a semantic difference, since nothing shows the contents
// equal.
func (d *differ) addNotComparable(lb *nodeB, descs [2]ocispec.Descriptor, sides string) {
	d.add(lb, Difference{Kind: KindField, Field: "blob", A: descs[0].Digest, B: descs[1].Digest, Semantic: true,
		Note: "not comparable: a non-distributable layer absent from image " + sides + " (not verified); compared by descriptor only"})
	lb.n.Note = "not read: non-distributable, absent from image " + sides
}
