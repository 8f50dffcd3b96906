package funcbuild

import (
	_ "embed"

	"golang.org/x/mod/module"
)

// FuncRelease is the knative/func release whose Go scaffolding Scaffold
// reproduces. Its templates pin the module versions below; a func release
// that changes them changes what a function builds against, so move this
// and the versions together.
const FuncRelease = "v0.50.1 (knative-v1.23.1)"

// scaffoldTemplate is the go.mod and go.sum func's scaffold starts from for one
// invoke kind (both signatures of a kind share them).
type scaffoldTemplate struct {
	// goVersion is the template's go directive.
	goVersion string
	// require is what the scaffold's main package needs, indirect what
	// that brings in; the template lists both, and a function's own
	// requirement of one of these modules does not override it.
	require, indirect []module.Version
	// sum is the template's go.sum: the hashes of the modules above, made
	// by go mod tidy (go test -run TestTemplateSums -update rewrites it).
	sum []byte
}

//go:embed templates/http.sum
var httpSum []byte

//go:embed templates/cloudevents.sum
var cloudeventsSum []byte

// funcGo is the middleware the scaffold's main calls: knative.dev/func-go.
var funcGo = module.Version{Path: "knative.dev/func-go", Version: "v0.22.0"}

// templates by func.yaml invoke, as in func v0.50.1.
var templates = map[string]scaffoldTemplate{
	"http": {
		goVersion: "1.25.0",
		require:   []module.Version{funcGo},
		indirect: []module.Version{
			{Path: "github.com/mattn/go-colorable", Version: "v0.1.15"},
			{Path: "github.com/mattn/go-isatty", Version: "v0.0.23"},
			{Path: "github.com/rs/zerolog", Version: "v1.35.1"},
			{Path: "golang.org/x/sys", Version: "v0.47.0"},
		},
		sum: httpSum,
	},
	"cloudevent": {
		goVersion: "1.25.0",
		require:   []module.Version{funcGo},
		indirect: []module.Version{
			{Path: "github.com/IBM/sarama", Version: "v1.50.3"},
			{Path: "github.com/cloudevents/sdk-go/v2", Version: "v2.16.2"},
			{Path: "github.com/davecgh/go-spew", Version: "v1.1.1"},
			{Path: "github.com/eapache/go-resiliency", Version: "v1.7.0"},
			{Path: "github.com/google/uuid", Version: "v1.6.0"},
			{Path: "github.com/hashicorp/go-uuid", Version: "v1.0.3"},
			{Path: "github.com/jcmturner/aescts/v2", Version: "v2.0.0"},
			{Path: "github.com/jcmturner/dnsutils/v2", Version: "v2.0.0"},
			{Path: "github.com/jcmturner/gofork", Version: "v1.7.6"},
			{Path: "github.com/jcmturner/gokrb5/v8", Version: "v8.4.4"},
			{Path: "github.com/jcmturner/rpc/v2", Version: "v2.0.3"},
			{Path: "github.com/json-iterator/go", Version: "v1.1.12"},
			{Path: "github.com/klauspost/compress", Version: "v1.18.6"},
			{Path: "github.com/mattn/go-colorable", Version: "v0.1.15"},
			{Path: "github.com/mattn/go-isatty", Version: "v0.0.23"},
			{Path: "github.com/modern-go/concurrent", Version: "v0.0.0-20180306012644-bacd9c7ef1dd"},
			{Path: "github.com/modern-go/reflect2", Version: "v1.0.2"},
			{Path: "github.com/pierrec/lz4/v4", Version: "v4.1.27"},
			{Path: "github.com/rcrowley/go-metrics", Version: "v0.0.0-20250401214520-65e299d6c5c9"},
			{Path: "github.com/rs/zerolog", Version: "v1.35.1"},
			{Path: "go.uber.org/multierr", Version: "v1.11.0"},
			{Path: "go.uber.org/zap", Version: "v1.28.0"},
			{Path: "golang.org/x/crypto", Version: "v0.53.0"},
			{Path: "golang.org/x/net", Version: "v0.56.0"},
			{Path: "golang.org/x/sys", Version: "v0.47.0"},
		},
		sum: cloudeventsSum,
	},
}
