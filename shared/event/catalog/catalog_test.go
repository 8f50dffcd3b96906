package catalog_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"sigs.k8s.io/yaml"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/event/catalog"
)

// The repository files the catalogue must agree with, relative to this
// package's directory (where go test runs).
const (
	repoRoot      = "../../.."
	eventingDir   = repoRoot + "/eventing"
	topicsDir     = eventingDir + "/topics"
	overlaysDir   = eventingDir + "/overlays"
	kustomization = eventingDir + "/kustomization.yaml"
	readme        = repoRoot + "/README.md"
	schemaDir     = repoRoot + "/schemas/nova/events/v1"
	eventsPackage = protoreflect.FullName("nova.events.v1")
)

// helperMessages are the top-level messages of nova.events.v1 that are parts
// of events rather than events (FieldRules is the contract's field option,
// rules.proto).
var helperMessages = []protoreflect.Name{"MediaMetadata", "MediaRef", "ModerationReason", "FieldRules"}

// designTopics is the design document's topic table, in its order.
var designTopics = []struct {
	name        string
	partitions  int32
	replication int16
}{
	{"content-events", 6, 1},
	{"media-events", 3, 1},
	{"user-events", 3, 1},
	{"messaging-events", 3, 1},
	{"notification-events", 2, 1},
	{"analytics-events", 6, 1},
	{"feed-updates", 3, 1},
	{"ranking-updates", 3, 1},
	{"trust-safety-events", 3, 1},
	{"realtime-chat", 3, 1},
}

func TestNewRejectsInconsistentInput(t *testing.T) {
	topic := catalog.Topic{Name: "t", Partitions: 1, Replication: 1}
	event := func(mut func(*catalog.EventType)) catalog.EventType {
		e := catalog.EventType{
			Type: "com.nova.content.post.created", Message: &eventsv1.PostCreated{}, Topic: "t",
			KeyField: "user_id", SubjectField: "post_id", Producer: catalog.ContentService,
		}
		if mut != nil {
			mut(&e)
		}
		return e
	}
	if _, err := catalog.New([]catalog.Topic{topic}, []catalog.EventType{event(nil)}); err != nil {
		t.Fatalf("a consistent catalogue was refused: %v", err)
	}
	cases := map[string]struct {
		topics []catalog.Topic
		events []catalog.EventType
	}{
		"topic without name":        {[]catalog.Topic{{Partitions: 1, Replication: 1}}, nil},
		"topic without partitions":  {[]catalog.Topic{{Name: "t", Replication: 1}}, nil},
		"topic without replication": {[]catalog.Topic{{Name: "t", Partitions: 1}}, nil},
		"topic listed twice":        {[]catalog.Topic{topic, topic}, nil},
		"event on unknown topic": {[]catalog.Topic{topic},
			[]catalog.EventType{event(func(e *catalog.EventType) { e.Topic = "nope" })}},
		"event type listed twice": {[]catalog.Topic{topic},
			[]catalog.EventType{event(nil), event(func(e *catalog.EventType) { e.Message = &eventsv1.PostDeleted{} })}},
		"message carried twice": {[]catalog.Topic{topic},
			[]catalog.EventType{event(nil), event(func(e *catalog.EventType) { e.Type = "com.nova.content.post.other" })}},
		"missing key field": {[]catalog.Topic{topic},
			[]catalog.EventType{event(func(e *catalog.EventType) { e.KeyField = "author_id" })}},
		"missing subject field": {[]catalog.Topic{topic},
			[]catalog.EventType{event(func(e *catalog.EventType) { e.SubjectField = "id" })}},
		"enum key field": {[]catalog.Topic{topic},
			[]catalog.EventType{event(func(e *catalog.EventType) { e.KeyField = "type" })}},
		"message key field": {[]catalog.Topic{topic},
			[]catalog.EventType{event(func(e *catalog.EventType) { e.KeyField = "created_at" })}},
		"repeated subject field": {[]catalog.Topic{topic},
			[]catalog.EventType{event(func(e *catalog.EventType) { e.SubjectField = "tags" })}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if cat, err := catalog.New(c.topics, c.events); err == nil {
				t.Fatalf("catalog.New accepted it: %d topics, %d events", len(cat.Topics()), len(cat.Events()))
			}
		})
	}
}

func TestDefaultCatalogue(t *testing.T) {
	cat := catalog.Default()

	var got []string
	for _, tp := range cat.Topics() {
		got = append(got, fmt.Sprintf("%s %d %d", tp.Name, tp.Partitions, tp.Replication))
	}
	var want []string
	for _, d := range designTopics {
		want = append(want, fmt.Sprintf("%s %d %d", d.name, d.partitions, d.replication))
	}
	if !slices.Equal(got, want) {
		t.Errorf("topics differ from the design document's table:\n got %q\nwant %q", got, want)
	}

	services := []string{catalog.ContentService, catalog.MediaService, catalog.IdentityService,
		catalog.MessagingService, catalog.NotificationService, catalog.FeedService, catalog.RankingService,
		catalog.TrustSafetyService, catalog.RealtimeChatService, catalog.AnalyticsService, catalog.SearchService}
	functions := []string{catalog.FeedFanout, catalog.SearchIndexer, catalog.Analytics, catalog.Ranking,
		catalog.TrustSafety, catalog.ModerationApply, catalog.ContentSync, catalog.MediaAttach, catalog.Notifier,
		catalog.ChatPush, catalog.ChatPersist}
	ceType := regexp.MustCompile(`^com\.nova\.[a-z]+\.[a-z]+\.[a-z_]+$`)
	onTopic := map[string]int{}

	for _, e := range cat.Events() {
		if !ceType.MatchString(e.Type) {
			t.Errorf("%s: type is not com.nova.<domain>.<entity>.<verb>", e.Type)
		}
		if e.Message == nil {
			t.Errorf("%s: no message", e.Type)
			continue
		}
		fields := e.Message.ProtoReflect().Descriptor().Fields()
		for role, f := range map[string]protoreflect.Name{"key": e.KeyField, "subject": e.SubjectField} {
			fd := fields.ByName(f)
			if fd == nil {
				t.Errorf("%s: %s field %q is not a field of %s", e.Type, role, f, e.MessageName())
				continue
			}
			if fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
				t.Errorf("%s: %s field %q is %v, not a single string", e.Type, role, f, fd.Kind())
			}
		}
		if !slices.Contains(services, e.Producer) {
			t.Errorf("%s: producer %q is not one of the service names", e.Type, e.Producer)
		}
		if e.Source() != "/nova/"+e.Producer {
			t.Errorf("%s: source %q", e.Type, e.Source())
		}
		if want := "https://type.googleapis.com/" + string(e.MessageName()); e.DataSchema() != want {
			t.Errorf("%s: dataschema %q, want %q", e.Type, e.DataSchema(), want)
		}
		for _, c := range e.Consumers {
			if !slices.Contains(functions, c) {
				t.Errorf("%s: consumer %q is not one of the function names", e.Type, c)
			}
			if c == catalog.DeadLetter {
				t.Errorf("%s: the dead-letter function is every source's sink, not a consumer", e.Type)
			}
		}
		if byType, ok := cat.ByType(e.Type); !ok || byType.MessageName() != e.MessageName() {
			t.Errorf("%s: ByType does not find it", e.Type)
		}
		if byMsg, ok := cat.ByMessage(e.Message); !ok || byMsg.Type != e.Type {
			t.Errorf("%s: ByMessage does not find it", e.Type)
		}
		onTopic[e.Topic]++
	}
	for _, tp := range cat.Topics() {
		if onTopic[tp.Name] == 0 {
			t.Errorf("topic %s carries no event type", tp.Name)
		}
	}

	// The first departure from the design document: every content event is
	// keyed by the author so a post's events share a partition.
	for _, e := range cat.Events() {
		if e.Topic == catalog.ContentEvents && e.KeyField != "user_id" {
			t.Errorf("%s: content events are keyed by user_id, not %s", e.Type, e.KeyField)
		}
	}
}

// TestEveryEventMessageIsCatalogued keeps schemas/ and the catalogue in step:
// an event message added to the protos without an event type (or the reverse)
// fails here.
func TestEveryEventMessageIsCatalogued(t *testing.T) {
	cat := catalog.Default()
	helpers := map[protoreflect.Name]bool{}
	catalogued := map[protoreflect.FullName]bool{}
	for _, e := range cat.Events() {
		catalogued[e.MessageName()] = true
	}

	registered := map[string]bool{}
	protoregistry.GlobalFiles.RangeFilesByPackage(eventsPackage, func(fd protoreflect.FileDescriptor) bool {
		registered[filepath.Base(fd.Path())] = true
		msgs := fd.Messages()
		for i := range msgs.Len() {
			md := msgs.Get(i)
			if slices.Contains(helperMessages, md.Name()) {
				helpers[md.Name()] = true
				continue
			}
			if strings.HasSuffix(string(md.Name()), "Event") {
				t.Errorf("%s: event messages are named without an Event suffix", md.FullName())
			}
			if !catalogued[md.FullName()] {
				t.Errorf("%s (%s) is an event message with no event type in the catalogue", md.FullName(), fd.Path())
			}
			delete(catalogued, md.FullName())
		}
		return true
	})
	for name := range catalogued {
		t.Errorf("catalogued message %s is not a top-level message of %s", name, eventsPackage)
	}
	for _, h := range helperMessages {
		if !helpers[h] {
			t.Errorf("helper message %s no longer exists; drop it from helperMessages", h)
		}
	}

	// Every .proto in schemas/ must be compiled into the Go package; a file
	// without its .pb.go is invisible to the registry above.
	protos, err := filepath.Glob(filepath.Join(schemaDir, "*.proto"))
	if err != nil || len(protos) == 0 {
		t.Fatalf("no .proto files in %s (%v)", schemaDir, err)
	}
	for _, p := range protos {
		if !registered[filepath.Base(p)] {
			t.Errorf("%s is not registered: generate it with `make proto`", p)
		}
	}
}

// manifest is one YAML document of a Kubernetes object, with the fields the
// tests read.
type manifest struct {
	File       string
	Doc        int
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec map[string]any `json:"spec"`
}

func (m manifest) String() string { return fmt.Sprintf("%s (document %d)", m.File, m.Doc) }

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// readManifests parses every YAML document of a file, skipping empty ones.
func readManifests(t *testing.T, path string) []manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []manifest
	for i, doc := range docSeparator.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var m manifest
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s (document %d): %v", path, i+1, err)
		}
		m.File, m.Doc = path, i+1
		out = append(out, m)
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func intField(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), n == float64(int64(n))
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func TestKafkaTopicManifestsMatchCatalogue(t *testing.T) {
	cat := catalog.Default()
	files, err := filepath.Glob(filepath.Join(topicsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no KafkaTopic manifests in %s (%v)", topicsDir, err)
	}
	seen := map[string]string{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue // the folder's listing, not a topic
		}
		for _, m := range readManifests(t, f) {
			if m.APIVersion != "kafka.strimzi.io/v1" || m.Kind != "KafkaTopic" {
				t.Errorf("%s: %s %s, want kafka.strimzi.io/v1 KafkaTopic", m, m.APIVersion, m.Kind)
				continue
			}
			name := m.Metadata.Name
			if tn, ok := m.Spec["topicName"].(string); ok {
				name = tn
			}
			if prev, dup := seen[name]; dup {
				t.Errorf("%s: topic %s already defined in %s", m, name, prev)
			}
			seen[name] = m.String()
			if m.Metadata.Labels["strimzi.io/cluster"] == "" {
				t.Errorf("%s: no strimzi.io/cluster label", m)
			}
			tp, ok := cat.Topic(name)
			if !ok {
				t.Errorf("%s: topic %s is not in the catalogue", m, name)
				continue
			}
			partitions, ok := intField(m.Spec["partitions"])
			if !ok || partitions != int64(tp.Partitions) {
				t.Errorf("%s: spec.partitions %v, catalogue has %d", m, m.Spec["partitions"], tp.Partitions)
			}
			replicas, ok := intField(m.Spec["replicas"])
			if !ok || replicas != int64(tp.Replication) {
				t.Errorf("%s: spec.replicas %v, catalogue has %d", m, m.Spec["replicas"], tp.Replication)
			}
			if cfg, _ := m.Spec["config"].(map[string]any); cfg != nil {
				if v, set := cfg["min.insync.replicas"]; set {
					isr, ok := intField(v)
					if !ok || isr < 1 || isr >= replicas {
						t.Errorf("%s: min.insync.replicas %v with %d replicas leaves no broker to lose", m, v, replicas)
					}
				}
			}
		}
	}
	for _, tp := range cat.Topics() {
		if _, ok := seen[tp.Name]; !ok {
			t.Errorf("catalogue topic %s has no KafkaTopic manifest in %s", tp.Name, topicsDir)
		}
	}
}

// readmeRow is one row of the README's topic table.
type readmeRow struct {
	line                          int
	topic, partitions, replicas   string
	events, keys, consumers       []string
	eventsCell, keyCell, consCell string
}

var backticked = regexp.MustCompile("`([^`]+)`")

func codeSpans(cell string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func cells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	parts := strings.Split(line, "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// tableRow is one body row of a markdown table in the README.
type tableRow struct {
	line  int
	cells []string
}

// readmeTable returns the body rows of the README table whose header cells
// are header (case-insensitive).
func readmeTable(t *testing.T, header []string) []tableRow {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatalf("read the README: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "|") {
			continue
		}
		hc := cells(l)
		for j := range hc {
			hc[j] = strings.ToLower(hc[j])
		}
		if !slices.Equal(hc, header) {
			continue
		}
		var rows []tableRow
		for k := i + 2; k < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[k]), "|"); k++ {
			c := cells(lines[k])
			if len(c) != len(header) {
				t.Fatalf("README.md:%d: %d cells, want %d", k+1, len(c), len(header))
			}
			rows = append(rows, tableRow{line: k + 1, cells: c})
		}
		if len(rows) == 0 {
			t.Fatalf("README.md:%d: the table | %s | has no rows", i+1, strings.Join(header, " | "))
		}
		return rows
	}
	t.Fatalf("README.md has no table with the header | %s |", strings.Join(header, " | "))
	return nil
}

// readmeTopicTable reads the table
// topic | partitions | replication | events | key | consumers.
// Names in the events, key and consumers columns are written as code spans;
// other words in those cells are prose and not compared.
func readmeTopicTable(t *testing.T) []readmeRow {
	t.Helper()
	var out []readmeRow
	for _, r := range readmeTable(t, []string{"topic", "partitions", "replication", "events", "key", "consumers"}) {
		c := r.cells
		out = append(out, readmeRow{
			line: r.line, topic: strings.Trim(c[0], "`*"), partitions: c[1], replicas: c[2],
			events: codeSpans(c[3]), keys: codeSpans(c[4]), consumers: codeSpans(c[5]),
			eventsCell: c[3], keyCell: c[4], consCell: c[5],
		})
	}
	return out
}

func TestReadmeTopicTableMatchesCatalogue(t *testing.T) {
	cat := catalog.Default()
	rows := readmeTopicTable(t)
	var order []string
	for _, r := range rows {
		order = append(order, r.topic)
		tp, ok := cat.Topic(r.topic)
		if !ok {
			t.Errorf("README.md:%d: topic %q is not in the catalogue", r.line, r.topic)
			continue
		}
		if r.partitions != strconv.Itoa(int(tp.Partitions)) {
			t.Errorf("README.md:%d: %s has %s partitions, catalogue %d", r.line, r.topic, r.partitions, tp.Partitions)
		}
		if r.replicas != strconv.Itoa(int(tp.Replication)) {
			t.Errorf("README.md:%d: %s has replication %s, catalogue %d", r.line, r.topic, r.replicas, tp.Replication)
		}
		var events, keys, consumers []string
		for _, e := range cat.Events() {
			if e.Topic != tp.Name {
				continue
			}
			events = append(events, string(e.MessageName().Name()))
			keys = append(keys, string(e.KeyField))
			consumers = append(consumers, e.Consumers...)
		}
		for _, col := range []struct {
			name       string
			got, want  []string
			cell       string
			emptyWords string
		}{
			{"events", r.events, events, r.eventsCell, ""},
			{"key", r.keys, keys, r.keyCell, ""},
			{"consumers", r.consumers, consumers, r.consCell, "(external)"},
		} {
			sort.Strings(col.want)
			col.want = slices.Compact(col.want)
			if !slices.Equal(col.got, col.want) {
				t.Errorf("README.md:%d: %s %s column names %q, catalogue %q", r.line, r.topic, col.name, col.got, col.want)
			}
			if len(col.want) == 0 && col.emptyWords != "" && !strings.Contains(col.cell, col.emptyWords) {
				t.Errorf("README.md:%d: %s has no %s; say %s", r.line, r.topic, col.name, col.emptyWords)
			}
		}
	}
	var want []string
	for _, tp := range cat.Topics() {
		want = append(want, tp.Name)
	}
	if !slices.Equal(order, want) {
		t.Errorf("README topic table lists %q, want the catalogue's %q in its order", order, want)
	}
}

// TestReadmeEventTableMatchesCatalogue checks the README's event types table
// (type | message | topic | key | subject | producer) row by row.
func TestReadmeEventTableMatchesCatalogue(t *testing.T) {
	cat := catalog.Default()
	header := []string{"type", "message", "topic", "key", "subject", "producer"}
	rows := readmeTable(t, header)
	var listed []string
	for _, r := range rows {
		c := r.cells
		ceType := strings.Trim(c[0], "`")
		listed = append(listed, ceType)
		e, ok := cat.ByType(ceType)
		if !ok {
			t.Errorf("README.md:%d: event type %q is not in the catalogue", r.line, ceType)
			continue
		}
		got := []string{ceType, strings.Trim(c[1], "`"), strings.Trim(c[2], "`"),
			strings.Trim(c[3], "`"), strings.Trim(c[4], "`"), strings.Trim(c[5], "`")}
		want := []string{e.Type, string(e.MessageName().Name()), e.Topic,
			string(e.KeyField), string(e.SubjectField), e.Producer}
		if !slices.Equal(got, want) {
			t.Errorf("README.md:%d: row %q, catalogue %q", r.line, got, want)
		}
	}
	var want []string
	for _, e := range cat.Events() {
		want = append(want, e.Type)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("README event table lists %q, want the catalogue's %q in its order", listed, want)
	}
}

// kustomizeResources resolves the resources of a kustomization to files,
// descending into listed directories' own kustomizations.
func kustomizeResources(t *testing.T, path string, into map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
		// Patches from a file (path:) list that file: it holds what an
		// object of a base becomes.
		Patches []struct {
			Path string `json:"path"`
		} `json:"patches"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, p := range k.Patches {
		if p.Path != "" {
			into[filepath.Clean(filepath.Join(filepath.Dir(path), p.Path))] = true
		}
	}
	for _, r := range k.Resources {
		if strings.Contains(r, "://") {
			t.Errorf("%s: remote resource %s: eventing/ must install from the repository alone", path, r)
			continue
		}
		p := filepath.Join(filepath.Dir(path), r)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: resource %s: %v", path, r, err)
			continue
		}
		if st.IsDir() {
			kustomizeResources(t, filepath.Join(p, "kustomization.yaml"), into)
			continue
		}
		into[filepath.Clean(p)] = true
	}
}

// TestKustomizationListsEveryManifest: `kubectl apply -k` installs only what
// a kustomization lists, so a manifest left out would silently never reach
// a cluster. A manifest under eventing/overlays/<name>/ belongs to that
// overlay and must be listed by its kustomization; any other under eventing/
// by eventing/kustomization.yaml, which must list nothing of an overlay.
func TestKustomizationListsEveryManifest(t *testing.T) {
	listed := map[string]bool{}
	kustomizeResources(t, kustomization, listed)
	if len(listed) == 0 {
		t.Fatalf("%s lists no resources", kustomization)
	}
	for f := range listed {
		if strings.HasPrefix(f, filepath.Clean(overlaysDir)+string(filepath.Separator)) {
			t.Errorf("%s lists %s, a file of an overlay", kustomization, f)
		}
	}
	overlays := map[string]map[string]bool{} // overlay directory -> the files it lists
	dirs, _ := filepath.Glob(filepath.Join(overlaysDir, "*"))
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		k := filepath.Join(d, "kustomization.yaml")
		if _, err := os.Stat(k); err != nil {
			t.Errorf("overlay %s has no kustomization.yaml", d)
			continue
		}
		overlays[filepath.Clean(d)] = map[string]bool{}
		kustomizeResources(t, k, overlays[filepath.Clean(d)])
	}
	err := filepath.WalkDir(eventingDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		objects := 0
		for _, m := range readManifests(t, path) {
			switch {
			case m.APIVersion == "" || m.Kind == "":
				// Not a Kubernetes object (kustomize patches and the like).
			case strings.HasPrefix(m.APIVersion, "kustomize.config.k8s.io/"):
			default:
				objects++
			}
		}
		if objects == 0 {
			return nil
		}
		owner, want := kustomization, listed
		for dir, files := range overlays {
			if strings.HasPrefix(filepath.Clean(path), dir+string(filepath.Separator)) {
				owner, want = filepath.Join(dir, "kustomization.yaml"), files
			}
		}
		if !want[filepath.Clean(path)] {
			t.Errorf("%s holds %d Kubernetes object(s) but %s does not list it", path, objects, owner)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOverlaysTakeTheWholeBase: an overlay changes the base (it may delete
// objects with a patch), so it takes every file the base installs. It lists
// the base folder by folder, since kustomize refuses a base that contains its
// overlay; a folder added to the base and not to an overlay fails here.
func TestOverlaysTakeTheWholeBase(t *testing.T) {
	base := map[string]bool{}
	kustomizeResources(t, kustomization, base)
	ks, _ := filepath.Glob(filepath.Join(overlaysDir, "*", "kustomization.yaml"))
	if len(ks) == 0 {
		t.Fatalf("no overlays in %s", overlaysDir)
	}
	for _, k := range ks {
		got := map[string]bool{}
		kustomizeResources(t, k, got)
		for f := range base {
			if !got[f] {
				t.Errorf("%s does not take %s, which the base installs", k, f)
			}
		}
	}
}

// TestKafkaSourcesDeadLetter: without a deadLetterSink Knative commits past
// a failed event and it is lost, so every source names the dead-letter
// function and retries with exponential backoff first.
func TestKafkaSourcesDeadLetter(t *testing.T) {
	err := filepath.WalkDir(eventingDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		for _, m := range readManifests(t, path) {
			if m.Kind != "KafkaSource" {
				continue
			}
			delivery, _ := m.Spec["delivery"].(map[string]any)
			if delivery == nil {
				t.Errorf("%s: KafkaSource %s has no spec.delivery", m, m.Metadata.Name)
				continue
			}
			dls, _ := delivery["deadLetterSink"].(map[string]any)
			ref, _ := dls["ref"].(map[string]any)
			if ref == nil || ref["name"] != catalog.DeadLetter {
				t.Errorf("%s: KafkaSource %s: spec.delivery.deadLetterSink.ref must name %s", m, m.Metadata.Name, catalog.DeadLetter)
			}
			if n, ok := intField(delivery["retry"]); !ok || n < 1 {
				t.Errorf("%s: KafkaSource %s: spec.delivery.retry must be at least 1", m, m.Metadata.Name)
			}
			if delivery["backoffPolicy"] != "exponential" {
				t.Errorf("%s: KafkaSource %s: spec.delivery.backoffPolicy must be exponential", m, m.Metadata.Name)
			}
			if s, _ := delivery["backoffDelay"].(string); s == "" {
				t.Errorf("%s: KafkaSource %s: spec.delivery.backoffDelay must be set", m, m.Metadata.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Guard the test's own YAML reading against a regression that would make the
// checks above vacuous.
func TestReadManifestsSplitsDocuments(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "multi.yaml")
	content := "# comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ms := readManifests(t, p)
	var kinds []string
	for _, m := range ms {
		kinds = append(kinds, m.Kind+"/"+m.Metadata.Name)
	}
	if !slices.Equal(kinds, []string{"ConfigMap/a", "Service/b"}) {
		t.Fatalf("got %q", kinds)
	}
}

func TestTopicRenamedFromEnvironment(t *testing.T) {
	c, err := catalog.FromEnv(map[string]string{"KAFKA_TOPIC_CONTENT_EVENTS": "staging.content-events"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Topic(catalog.ContentEvents); ok {
		t.Fatal("the old name is still a topic")
	}
	tp, ok := c.Topic("staging.content-events")
	if !ok || tp.Partitions != 6 {
		t.Fatalf("renamed topic %+v, %v", tp, ok)
	}
	e, _ := c.ByType("com.nova.content.post.created")
	if e.Topic != "staging.content-events" {
		t.Fatalf("PostCreated goes to %q", e.Topic)
	}
	if d, err := catalog.FromEnv(map[string]string{}); err != nil || d.Events()[0].Topic != catalog.ContentEvents {
		t.Fatalf("no variable: %v %v", d, err)
	}
	if _, err := catalog.Default().WithTopicNames(map[string]string{"no-such-topic": "x"}); err == nil {
		t.Fatal("renaming an unknown topic was accepted")
	}
}

// Every topic has a function that publishes it; a topic without one would
// hold nothing, or rows no relay sends.
func TestEveryTopicHasAWriter(t *testing.T) {
	cat := catalog.Default()
	for _, topic := range cat.Topics() {
		if len(topic.Writers) == 0 {
			t.Errorf("%s has no writer", topic.Name)
		}
		for _, fn := range topic.Writers {
			if !slices.Contains(cat.WrittenBy(fn), topic.Name) {
				t.Errorf("WrittenBy(%s) leaves out %s", fn, topic.Name)
			}
		}
	}
	if got := cat.WrittenBy(catalog.Notifier); !slices.Equal(got, []string{catalog.NotificationEvents}) {
		t.Errorf("notifier writes %v, want notification-events only", got)
	}
	renamed, err := cat.WithTopicNames(map[string]string{catalog.ContentEvents: "posts"})
	if err != nil {
		t.Fatal(err)
	}
	if got := renamed.WrittenBy(catalog.MediaAttach); !slices.Equal(got, []string{"posts"}) {
		t.Errorf("after renaming content-events, media-attach writes %v", got)
	}
}
