// Package ocitest makes small, deterministic container images for the
// tests and benchmarks of internal/oci, internal/imagediff and the CLI.
//
// An image is described by an Index of Images, each with Layers made of
// tar entries (compressed with gzip, zstd or not at all) or of opaque blob
// Content, with docker or OCI media types. Build assembles it into a Store,
// which serves its blobs in memory as imagediff.Source does and renders
// itself as a Layout: the files of an OCI image layout, which can be
// damaged on purpose (Replace, Remove, Append) and written out as a tarball
// or a directory. BuildLayout is the shortcut for layouts in the shape
// BuildKit's docker and OCI exporters write (Options).
package ocitest
