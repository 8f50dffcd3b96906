// Package funcbuild builds a Knative Go function the way `kn func build`
// with the pack builder does, without kn, Docker or a registry, so a
// function that would not build or start in its image fails here first.
//
// The steps follow func (knative/func v0.50.1, knative-v1.23.1) and the
// Paketo Go buildpacks it drives:
//
//   - Context copies the function directory minus .funcignore, the build
//     context func sends to the builder.
//   - Proxy serves a module at a version from a git revision, byte for byte
//     the zip the Go module proxy will make of the pushed tag, so a function
//     can require the root module at a release that is not pushed yet.
//   - Pin and Unpin switch a function module between the release and the
//     local replace of the root module.
//   - Scaffold writes the .func/build module func generates around the
//     function (its main package, and a go.mod that keeps the template's
//     requirements and adds only the function's others).
//   - Build runs Paketo's `go mod vendor` on the function and its `go build`
//     of the scaffold, in an environment made only of the builder's own
//     settings and the func.yaml build.buildEnvs.
package funcbuild
