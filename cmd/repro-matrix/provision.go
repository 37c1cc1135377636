package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/repro-matrix/repro-matrix/internal/engine"
	"github.com/repro-matrix/repro-matrix/internal/provision"
)

func init() { register(newProvisionCmd) }

func newProvisionCmd() *cobra.Command {
	var load []string
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Make the images that cannot be pulled: BuildKit from the Go module proxy, Debian bases",
	}
	cmd.PersistentFlags().StringSliceVar(&load, "load", nil, "load the images into these engines: docker, podman")
	cmd.AddCommand(&cobra.Command{
		Use:   "buildkit VERSION...",
		Short: "Build BuildKit images (VERSION like v0.19.0, or latest)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, v := range args {
				if v == "latest" {
					var err error
					if v, err = provision.Latest(cmd.Context(), provision.BuildKitModule); err != nil {
						return withCode(exitMismatch, err)
					}
				}
				img, err := provision.BuildKitFrom(cmd.Context(), provision.DefaultCache(), provision.BuildKitModule, v)
				if err != nil {
					return withCode(exitMismatch, err)
				}
				if err := loadInto(cmd, load, img); err != nil {
					return err
				}
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "debian SUITE [ARCH]",
		Short: "Make a reproducible Debian base image (ARCH defaults to amd64)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			arch := "amd64"
			if len(args) == 2 {
				arch = args[1]
			}
			img, err := provision.DebianBase(cmd.Context(), provision.DefaultCache(), args[0], arch)
			if err != nil {
				return withCode(exitMismatch, err)
			}
			return loadInto(cmd, load, img)
		},
	})
	return cmd
}

// loadInto prints the provisioned image and loads it into the named host
// engines.
func loadInto(cmd *cobra.Command, engines []string, img provision.Image) error {
	fmt.Fprintf(cmd.OutOrStdout(), "%s\tid %s\tdigest %s\t%s\n", img.Ref, img.ID, img.Digest, img.Tarball)
	for _, name := range engines {
		kind, err := engine.ParseKind(name)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--load: %w", err))
		}
		e, err := engine.Host(cmd.Context(), kind)
		if err != nil {
			return withCode(exitMismatch, err)
		}
		if err := engine.Load(cmd.Context(), e, img.Ref, img.ID.String(), img.Tarball); err != nil {
			return withCode(exitMismatch, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "loaded %s into %s\n", img.Ref, e.Name())
	}
	return nil
}
