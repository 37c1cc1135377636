package imagediff

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrDamaged marks a side that its Source's Verify found damaged: an image
// that `repro-matrix analyze` refuses (exit 2). It wraps ErrInput. The rule
// that such an image is never reported equal is issue 10's point 4.
var ErrDamaged = fmt.Errorf("%w: damaged image", ErrInput)

// DamageError says which side of a comparison is damaged and why. Err is
// the Source's verdict, naming every bad blob; for *oci.Layout it is
// Analyze's error, whose problems wrap oci's sentinels (ErrBlobMissing,
// ErrDigestMismatch, ErrSizeMismatch, ErrNotRegular, …), so errors.Is sees
// both ErrDamaged and the sentinel.
type DamageError struct {
	Side string // "A" or "B"
	Name string // Options.NameA or NameB; "" when not given
	Err  error
}

// Error is "image B (NAME) is damaged: PROBLEM", or, for several problems,
// one line each under "image B (NAME) is damaged, N problems:".
func (e *DamageError) Error() string {
	who := "image " + e.Side
	if e.Name != "" {
		who += " (" + e.Name + ")"
	}
	lines := strings.Split(strings.TrimSpace(e.Err.Error()), "\n")
	if len(lines) == 1 {
		return who + " is damaged: " + lines[0]
	}
	return fmt.Sprintf("%s is damaged, %d problems:\n  - %s", who, len(lines), strings.Join(lines, "\n  - "))
}

// Unwrap gives ErrDamaged and the Source's own error.
func (e *DamageError) Unwrap() []error { return []error{ErrDamaged, e.Err} }

// verifySides runs Verify on both sources, A then B, and reports every
// damaged side; an error of ctx is returned as it is.
func verifySides(ctx context.Context, src [2]Source, names [2]string) error {
	var errs []error
	for side, s := range src {
		err := s.Verify(ctx)
		if err == nil {
			continue
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("image %s: %w", sideName(side), ctxErr)
		}
		errs = append(errs, &DamageError{Side: sideName(side), Name: names[side], Err: err})
	}
	return errors.Join(errs...)
}
