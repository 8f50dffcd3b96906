package manifests_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/manifests"
)

// The Grafana dashboard of eventing/monitoring: nova-dashboard.json, made
// a ConfigMap by the kustomization's configMapGenerator.
const (
	dashboardConfigMap = "nova-dashboard"
	dashboardKey       = "nova-dashboard.json"
	// The label kube-prometheus-stack's Grafana sidecar loads dashboards
	// by, and its value, the chart's defaults.
	dashboardLabel, dashboardLabelValue = "grafana_dashboard", "1"
	dashboardUID                        = "nova-overview"
	lagAlert                            = "KafkaConsumerLagHigh"
	lagMetric                           = "kafka_consumer_lag"
	repoRoot                            = "../../../.."
	// kubectl apply keeps the whole object in its last-applied-configuration
	// annotation, and an object's annotations may hold 256 KiB.
	maxAppliedObject = 256 << 10
)

// datasourceRef is how every panel, query and query variable names its
// data source: the dashboard's datasource variable, never a uid of one
// Grafana.
var datasourceRef = map[string]any{"type": "prometheus", "uid": "${datasource}"}

// knativeMetrics are the queue-proxy's request metrics in Knative Serving
// 1.20 as its OpenTelemetry Prometheus exporter names them
// (UnderscoreEscapingWithSuffixes): otelhttp's http.server.request.duration
// (knative/serving pkg/queue/sharedmain/handlers.go), kn.serving.invocation.duration and
// kn.serving.queue.depth (pkg/queue/request_metric.go), and target_info,
// the exporter's resource (pkg/queue/sharedmain/otel.go: kn.service.name,
// k8s.namespace.name, ...).
var knativeMetrics = setOf(
	"http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_count",
	"http_server_request_duration_seconds_sum",
	"kn_serving_invocation_duration_seconds_bucket", "kn_serving_invocation_duration_seconds_count",
	"kn_serving_invocation_duration_seconds_sum",
	"kn_serving_queue_depth",
	"target_info")

// announcedNovaMetrics are Nova metrics a panel may show before the code
// defining them lands: none. A name here must be one a service is about to
// export; novaMetrics finds it in the code once it does.
var announcedNovaMetrics = setOf()

// grafanaBuiltins are Grafana's own variables a query may use, with a value
// of the right kind for the PromQL reader.
var grafanaBuiltins = map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}

type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	ID            any    `json:"id"`
	Templating    struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaVariable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Query any    `json:"query"`
}

type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		X int `json:"x"`
		Y int `json:"y"`
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	Targets     []grafanaTarget `json:"targets"`
	Panels      []grafanaPanel  `json:"panels"` // a collapsed row's
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type grafanaTarget struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
}

// TestGrafanaDashboard: eventing/ and every overlay install the dashboard as
// the sidecar loads it, and the dashboard is one Grafana takes whatever its
// data source: panels on the datasource variable, every query valid PromQL
// over metrics something exports, the lag alert's name and threshold those
// of kafka-consumer-lag-rule.yaml.
func TestGrafanaDashboard(t *testing.T) {
	nova := novaMetrics(t)
	for _, dir := range []string{eventing, brokerOverlay} {
		name, err := filepath.Rel(filepath.Dir(eventing), dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			objs, err := manifests.Build(dir)
			if err != nil {
				t.Fatal(err)
			}
			var dashboards []manifests.Object
			alerts := map[string]string{} // alert name -> expression
			for _, o := range objs {
				switch {
				case o.Kind == "ConfigMap" && strings.HasPrefix(o.Name, dashboardConfigMap):
					dashboards = append(dashboards, o)
				case o.Kind == "PrometheusRule":
					ruleAlerts(t, o, alerts)
				}
			}
			if len(dashboards) != 1 || dashboards[0].Name != dashboardConfigMap {
				t.Fatalf("ConfigMaps %v, want %s alone (without a name hash: a change must replace the same ConfigMap)", dashboards, dashboardConfigMap)
			}
			cm := dashboards[0]
			if len(cm.YAML) > maxAppliedObject {
				t.Errorf("%s is %d bytes: kubectl apply cannot keep it in its last-applied annotation (256 KiB)", cm, len(cm.YAML))
			}
			var obj struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Data map[string]string `json:"data"`
			}
			if err := yaml.Unmarshal(cm.YAML, &obj); err != nil {
				t.Fatal(err)
			}
			if got := obj.Metadata.Labels[dashboardLabel]; got != dashboardLabelValue {
				t.Errorf("%s: label %s=%q, want %q: the Grafana sidecar loads only ConfigMaps with it", cm, dashboardLabel, got, dashboardLabelValue)
			}
			if len(obj.Data) != 1 || obj.Data[dashboardKey] == "" {
				t.Fatalf("%s: data keys %v, want %s alone", cm, slices.Sorted(maps.Keys(obj.Data)), dashboardKey)
			}
			checkDashboard(t, []byte(obj.Data[dashboardKey]), alerts, nova)
		})
	}
}

// ruleAlerts adds the alerts of a PrometheusRule to alerts.
func ruleAlerts(t *testing.T, o manifests.Object, alerts map[string]string) {
	t.Helper()
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(o.YAML, &rule); err != nil {
		t.Fatalf("%s: %v", o, err)
	}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts[r.Alert] = r.Expr
			}
		}
	}
}

func checkDashboard(t *testing.T, raw []byte, alerts map[string]string, nova map[string]bool) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardKey, err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardKey, err)
	}
	if d.UID != dashboardUID || d.Title == "" {
		t.Errorf("uid %q, title %q; want uid %s (stable: links and the sidecar's updates find the dashboard by it) and a title", d.UID, d.Title, dashboardUID)
	}
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d, want a current Grafana's (39 or later)", d.SchemaVersion)
	}
	if d.ID != nil {
		t.Errorf("id %v: Grafana gives a provisioned dashboard its own", d.ID)
	}

	// No data source but the variable, anywhere: a uid of one Grafana
	// would leave every panel empty in another.
	walkJSON(doc, "", func(path string, m map[string]any) {
		if ds, ok := m["datasource"]; ok && !jsonEqual(ds, datasourceRef) {
			t.Errorf("%s.datasource is %v, want %v", path, ds, datasourceRef)
		}
		if uid, ok := m["uid"]; ok && path != "" && !(strings.HasSuffix(path, ".datasource") && uid == "${datasource}") {
			t.Errorf("%s.uid is %v: a hard-coded uid", path, uid)
		}
	})

	vars := map[string]grafanaVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("variable datasource %+v, want one of type datasource over prometheus", v)
	}
	if _, ok := vars["namespace"]; !ok {
		t.Error("no namespace variable")
	}

	var used []promQuery
	check := func(where, expr string) (promQuery, bool) {
		q, err := parsePromQL(substituteVariables(t, where, expr, vars))
		if err != nil {
			t.Errorf("%s: %s: %v", where, expr, err)
			return q, false
		}
		for _, m := range q.Metrics {
			if !knownMetric(m, nova) {
				t.Errorf("%s: metric %s: neither one Nova exports, %s, ALERTS nor a Knative 1.20 queue-proxy metric", where, m, lagMetric)
			}
		}
		used = append(used, q)
		return q, true
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		query, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			query, _ = m["query"].(string)
		}
		// label_values(selector, label), or a query.
		if inner, ok := strings.CutPrefix(query, "label_values("); ok && strings.HasSuffix(inner, ")") {
			inner = strings.TrimSuffix(inner, ")")
			i := strings.LastIndex(inner, ",")
			if i < 0 || !regexp.MustCompile(`^\s*[a-zA-Z_]\w*\s*$`).MatchString(inner[i+1:]) {
				t.Errorf("variable %s: %q: want label_values(selector, label)", v.Name, query)
				continue
			}
			query = inner[:i]
		}
		check("variable "+v.Name, query)
	}

	var (
		panels         = flattenPanels(d.Panels)
		ids            = map[int]string{}
		lagThresholds  []float64
		lagThresholded bool
	)
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	for i, p := range panels {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 || ids[p.ID] != "" {
			t.Errorf("%s: id %d missing or also %s's", name, p.ID, ids[p.ID])
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if p.Title == "" || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: no title, or gridPos %+v off Grafana's 24 columns", name, g)
		}
		for _, o := range panels[:i] {
			h := o.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("%s overlaps panel %d %q", name, o.ID, o.Title)
			}
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("%s: a row with queries", name)
			}
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", name)
		}
		refs := map[string]bool{}
		lag, alertState := false, false
		for _, tg := range p.Targets {
			where := name + " query " + tg.RefID
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("%s: refId missing or repeated", where)
			}
			refs[tg.RefID] = true
			q, ok := check(where, tg.Expr)
			if !ok {
				continue
			}
			lag = lag || slices.Contains(q.Metrics, lagMetric)
			alertState = alertState || slices.Contains(q.Metrics, "ALERTS")
			// A legend names labels the query's result keeps.
			for _, m := range regexp.MustCompile(`\{\{\s*([^}\s]+)\s*\}\}`).FindAllStringSubmatch(tg.LegendFormat, -1) {
				if !regexp.MustCompile(`\b` + regexp.QuoteMeta(m[1]) + `\b`).MatchString(tg.Expr) {
					t.Errorf("%s: legend %q names %s, which the query never mentions", where, tg.LegendFormat, m[1])
				}
			}
		}
		if lag && !alertState { // an alert state panel's thresholds colour states
			for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
				if s.Value != nil {
					lagThresholds = append(lagThresholds, *s.Value)
					lagThresholded = true
				}
			}
		}
	}

	// The panels the dashboard is for.
	metrics := map[string]bool{}
	for _, q := range used {
		for _, m := range q.Metrics {
			metrics[m] = true
		}
	}
	for _, want := range []string{
		"http_server_request_duration_seconds_count", "http_server_request_duration_seconds_bucket", "target_info",
		lagMetric, "ALERTS",
	} {
		if !metrics[want] {
			t.Errorf("no query reads %s", want)
		}
	}

	// The alert state shown is that of an alert the rules define.
	shown := false
	for _, q := range used {
		for _, m := range q.Matchers {
			if m.Label != "alertname" {
				continue
			}
			if _, ok := alerts[m.Value]; !ok || m.Op != "=" {
				t.Errorf("alertname%s%q: want = and an alert of the PrometheusRules (%v)", m.Op, m.Value, slices.Sorted(maps.Keys(alerts)))
			}
			shown = shown || m.Value == lagAlert
		}
	}
	if !shown {
		t.Errorf("no panel shows %s", lagAlert)
	}

	// The lag panels' threshold is the alert's.
	expr, ok := alerts[lagAlert]
	if !ok {
		t.Fatalf("the PrometheusRules define no %s", lagAlert)
	}
	m := regexp.MustCompile(`^\s*` + lagMetric + `\s*>\s*([0-9.]+)\s*$`).FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("%s is %q: this test reads its threshold from %q > N", lagAlert, expr, lagMetric)
	}
	limit, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	if !lagThresholded {
		t.Errorf("no %s panel marks %s's threshold %v", lagMetric, lagAlert, limit)
	}
	for _, v := range lagThresholds {
		if v != limit {
			t.Errorf("a %s panel marks %v, but %s fires above %v", lagMetric, v, lagAlert, limit)
		}
	}
}

// substituteVariables gives Grafana's variables in expr values PromQL
// reads: each must be one of the dashboard's or Grafana's own.
func substituteVariables(t *testing.T, where, expr string, vars map[string]grafanaVariable) string {
	t.Helper()
	return regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`).ReplaceAllStringFunc(expr, func(s string) string {
		name := strings.Trim(s, "${}")
		name, _, _ = strings.Cut(name, ":")
		if v, ok := grafanaBuiltins[name]; ok {
			return v
		}
		if _, ok := vars[name]; ok {
			return "x"
		}
		t.Errorf("%s: %s: variable %s is not defined", where, expr, name)
		return s
	})
}

func knownMetric(name string, nova map[string]bool) bool {
	if name == lagMetric || name == "ALERTS" || knativeMetrics[name] || nova[name] || announcedNovaMetrics[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && nova[base] {
			return true
		}
	}
	return false
}

// novaMetrics are the nova_ names the repository's Go code spells out
// (metrics are declared with literal names): Prometheus client names as
// they are, and OpenTelemetry instrument names (nova.outbox.pending) as
// Prometheus's OTLP receiver writes them, dots as underscores, a counter
// with _total (a name may be either here).
func novaMetrics(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`"(nova_[a-z0-9_]+|nova\.[a-z0-9_.]+[a-z0-9_])"`)
	out := map[string]bool{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".nova", "node_modules", "testdata", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			name := string(m[1])
			if strings.Contains(name, ".") {
				name = strings.ReplaceAll(name, ".", "_")
				out[name+"_total"] = true
			}
			out[name] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !out["nova_function_requests_total"] || !out["nova_outbox_pending"] {
		t.Fatalf("no nova_ metric or OpenTelemetry instrument found under %s: the scan is broken", repoRoot)
	}
	return out
}

// flattenPanels lists panels in order, a collapsed row's after it.
func flattenPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flattenPanels(p.Panels)...)
	}
	return out
}

// walkJSON calls visit with every object of v and its path.
func walkJSON(v any, path string, visit func(path string, m map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		visit(path, x)
		keys := slices.Sorted(maps.Keys(x))
		for _, k := range keys {
			walkJSON(x[k], path+"."+k, visit)
		}
	case []any:
		for i, e := range x {
			walkJSON(e, path+"["+strconv.Itoa(i)+"]", visit)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
