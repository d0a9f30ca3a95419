package report_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/k8sverify/k8sverify/internal/testworld/signing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/mirror"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/sbom"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// The JSON Schema of the report (schema/report.schema.json) is checked
// three ways: real reports validate against it; it rejects reports that
// break its rules; and it describes exactly the Go types of model.go, so
// that the two cannot drift apart.

var fullTool = report.Tool{Name: "k8sverify", Version: "v0.0.0-test", Commit: "0123456789abcdef", GoVersion: "go1.26"}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report.Schema()))
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("report.schema.json") // also validates it against the draft 2020-12 meta-schema
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	return sch
}

// instance is a report as report.WriteJSON writes it, read back as JSON.
func instance(t testing.TB, rep *report.Report) any {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// schemaDoc is the schema as plain JSON, for the tests that read it.
func schemaDoc(t testing.TB) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(report.Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestReportsMatchSchema(t *testing.T) {
	sch := compileSchema(t)
	doc := schemaDoc(t)
	seen := map[string]bool{}
	check := func(t *testing.T, rep *report.Report) {
		t.Helper()
		inst := instance(t, rep)
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("a %s report does not match the schema:\n%v", rep.Kind, err)
		}
		cover(doc, "report", doc, inst, seen)
	}

	t.Run("listing of every catalog release", func(t *testing.T) {
		for _, v := range artifacts.CatalogVersions() {
			rel, err := artifacts.CatalogRelease(v, artifacts.DefaultLocations)
			if err != nil {
				t.Fatal(err)
			}
			check(t, report.NewListing(fullTool, time.Now(), rel, nil, nil))
		}
	})
	t.Run("listing of v1.33.2 with its channels not reachable", func(t *testing.T) {
		rel, err := artifacts.CatalogRelease(artifacts.Version{Major: 1, Minor: 33, Patch: 2}, artifacts.DefaultLocations)
		if err != nil {
			t.Fatal(err)
		}
		(&artifacts.Channels{}).Bind(context.Background(), rel)
		check(t, report.NewListing(fullTool, time.Now(), rel, nil, nil))
	})
	t.Run("listing of v1.24.17 from the release SBOM and the catalog", func(t *testing.T) {
		check(t, sbomListing(t))
	})
	t.Run("verification from judged evidence", func(t *testing.T) {
		check(t, judgedVerification(t))
	})
	t.Run("verification of a test world with forgeries", func(t *testing.T) {
		check(t, worldVerification(t))
	})
	t.Run("verification of a test world, interrupted", func(t *testing.T) {
		check(t, interruptedVerification(t))
	})
	t.Run("mirror of a test world, dry run and real", func(t *testing.T) {
		for _, r := range worldMirror(t) {
			check(t, r)
		}
	})
	if t.Failed() {
		return
	}
	// The reports above are meant to show every field the schema
	// describes: a property no real report writes is untested.
	var unseen []string
	for _, p := range schemaProperties(doc) {
		if !seen[p] {
			unseen = append(unseen, p)
		}
	}
	if len(unseen) > 0 {
		t.Errorf("no report of this test writes %s: extend the reports so that the schema is checked against real output", strings.Join(unseen, ", "))
	}
}

// sbomListing lists v1.24.17 as `list` does online: the real release SBOM
// merged with the catalog, and their differences (the catalog given one
// artifact less, so that there is one either way).
func sbomListing(t testing.TB) *report.Report {
	t.Helper()
	v, err := artifacts.ParseVersion("v1.24.17")
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := artifacts.CatalogRelease(v, artifacts.DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("..", "sbom", "testdata", "v1.24.17-release.spdx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := sbom.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	online, err := s.Release(v, artifacts.DefaultLocations, nil)
	if err != nil {
		t.Fatal(err)
	}
	online.Artifacts = online.Artifacts[1:]
	diffs := sbom.Diff(catalog, online)
	if len(diffs) == 0 {
		t.Fatal("no differences between the SBOM and the catalog")
	}
	return report.NewListing(fullTool, time.Now(), sbom.Merge(catalog, online), diffs, []string{"the release SBOM and the embedded catalog disagree"})
}

// judgedVerification is a verification report of verdicts the judge gives
// on hand-made evidence, signed by an in-memory Sigstore: every status,
// an accepted incident, a log-lookup note, and a blob outside any release.
func judgedVerification(t testing.TB) *report.Report {
	t.Helper()
	s := signing.New(t)
	const incident = "v1.24.17-test-promoter"
	j, err := verify.NewJudge(s.Verifier, verify.Rules{AcceptIncidents: []string{incident}})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(digest sigverify.Digest, id artifacts.Identity) *verify.SignatureEvidence {
		b := s.Bundle(t, digest.Bytes(), id)
		return &verify.SignatureEvidence{Source: verify.SourceSigCert, Location: "https://dl.k8s.io/release/v1.24.17/" + digest.Hex[:8] + ".sig", Bundle: b}
	}
	digest := func(s string) sigverify.Digest {
		sum := sha256.Sum256([]byte(s))
		return sigverify.SHA256Digest(sum[:])
	}
	published := func(d sigverify.Digest) []verify.DigestClaim {
		return []verify.DigestClaim{{Digest: d, Channel: verify.ChannelSHA256File}}
	}

	version, err := artifacts.ParseVersion("v1.24.17")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := artifacts.CatalogRelease(version, artifacts.DefaultLocations)
	if err != nil {
		t.Fatal(err)
	}
	promoter := artifacts.Identity{SAN: testworld.PromoterIdentity, Issuer: artifacts.GoogleIssuer}
	rel.Incidents = append(rel.Incidents, artifacts.Incident{ID: incident, Summary: "a test's incident: files signed by the promoter",
		Source: "https://example.com/incident", SeeAlso: []string{"https://example.com/more"}, Kinds: []artifacts.Kind{artifacts.KindTarball},
		Identities: []artifacts.Identity{promoter}}, artifacts.Incident{ID: "v1.24.17-test-images", Summary: "a test's incident of one image",
		Source: "https://example.com/images", Kinds: []artifacts.Kind{artifacts.KindImage}, Images: []string{"kube-proxy"}})
	find := func(id string) artifacts.Artifact {
		for _, a := range rel.Artifacts {
			if a.ID() == id {
				return a
			}
		}
		t.Fatalf("v1.24.17 has no %s", id)
		return artifacts.Artifact{}
	}

	// changelogSum is a tarball's published .sha512: the CHANGELOG's sum
	// the catalog holds.
	changelogSum := func(a artifacts.Artifact) verify.DigestClaim {
		d, err := sigverify.ParseDigest("sha512:" + a.Sum("sha512", artifacts.SumCatalog))
		if err != nil {
			t.Fatal(err)
		}
		return verify.DigestClaim{Digest: d, Channel: verify.ChannelSHA512File}
	}

	kubectl, kubelet, kubeadm := digest("kubectl"), digest("kubelet"), digest("kubeadm")
	withLookupError := sign(kubeadm, artifacts.BlobSigner)
	withLookupError.LogLookup = errors.New("rekor: 503 Service Unavailable")
	var verdicts []verify.Verdict
	for _, c := range []struct {
		id string
		ev verify.Evidence
	}{
		{"binary kubectl linux/amd64", verify.Evidence{Digests: published(kubectl), Signatures: []verify.SignatureEvidence{*sign(kubectl, artifacts.BlobSigner)}}},
		{"binary kubeadm linux/amd64", verify.Evidence{Digests: published(kubeadm), Signatures: []verify.SignatureEvidence{*withLookupError}}},
		{"binary kubelet linux/amd64", verify.Evidence{Digests: published(kubelet), Signatures: []verify.SignatureEvidence{*sign(kubelet, promoter)}}},
		{"binary kubectl linux/arm64", verify.Evidence{Digests: published(digest("kubectl arm64")), Signatures: []verify.SignatureEvidence{*sign(kubectl, artifacts.BlobSigner)}}},
		{"binary kubelet linux/arm64", verify.Evidence{Digests: published(digest("kubelet arm64"))}},
		{"binary kube-proxy.docker_tag linux/amd64", verify.Evidence{Digests: published(digest("tag"))}},
		{"binary kubeadm linux/arm64", verify.Evidence{Missing: "https://dl.k8s.io/release/v1.24.17/bin/linux/arm64/kubeadm answers 404"}},
		{"binary kube-proxy linux/arm64", verify.Evidence{Unavailable: errors.New("dial tcp: connection refused")}},
		{"tarball kubernetes-src.tar.gz", verify.Evidence{Digests: append(published(digest("src")), changelogSum(find("tarball kubernetes-src.tar.gz"))),
			Signatures: []verify.SignatureEvidence{*sign(digest("src"), promoter)}}},
	} {
		v := j.Judge(rel, find(c.id), c.ev)
		v.Elapsed = 42 * time.Millisecond
		verdicts = append(verdicts, v)
	}

	blob := digest("a blob")
	blobArtifact := artifacts.Artifact{Kind: artifacts.KindBlob, Name: blob.String(), Location: blob.String(), Signer: artifacts.BlobSigner, Signing: artifacts.SigningProbe}
	blobVerdict := j.Judge(nil, blobArtifact, verify.Evidence{Digests: []verify.DigestClaim{{Digest: blob, Channel: verify.ChannelArgument}},
		Signatures: []verify.SignatureEvidence{*sign(blob, artifacts.BlobSigner)}})

	// The release as asked for by an alias (verify latest-1.24).
	rep := report.NewVerification(fullTool, time.Now(), []report.Section{{Release: rel, Verdicts: verdicts, Requested: "latest-1.24"}, {Verdicts: []verify.Verdict{blobVerdict}}}, []string{"a warning"})
	for _, want := range []verify.Status{verify.StatusVerified, verify.StatusFailed, verify.StatusUnsigned, verify.StatusMissing, verify.StatusError} {
		if !slices.ContainsFunc(rep.Artifacts, func(a report.Artifact) bool { return a.Status == report.Status(want) }) {
			t.Errorf("no artifact is %s", want)
		}
	}
	return rep
}

// worldVerification is the report of verifying a test world's release as
// `k8sverify verify` does, with a few forgeries and faults.
func worldVerification(t *testing.T) *report.Report {
	t.Helper()
	w := testworld.StartT(t, testworld.Options{Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultForeignIdentity, Target: "bin/linux/amd64/kubectl"},
		{Kind: testworld.FaultPayloadName, Target: "kube-proxy-amd64"},
		{Kind: testworld.FaultUnsigned, Target: "kube-apiserver-arm64"},
		{Kind: testworld.FaultMissing, Target: "bin/linux/arm64/kubectl"},
	}})
	s, err := audit.NewSession(audit.Config{
		Endpoints: transport.Endpoints{DownloadURL: w.DownloadURL, SBOMURL: w.SBOMURL, Registry: w.Registry, RekorURL: w.RekorURL},
		Timeout:   5 * time.Second,
		Trust:     trust.Source{File: w.TrustedRootPath},
		Catalog:   w.Catalog,
	})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := audit.Selection{}.Apply(w.Release)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.VerifyReleases(context.Background(), []*artifacts.Release{rel}, audit.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sections []report.Section
	for _, r := range res {
		sections = append(sections, report.Section{Release: r.Release, Verdicts: r.Verdicts})
	}
	rep := report.NewVerification(fullTool, time.Now(), sections, nil)
	if rep.Summary.Verified == 0 || rep.Summary.Failed == 0 {
		t.Fatalf("the world's report: %s", rep.Summary)
	}
	// The world's catalog is a file used instead of the embedded one.
	rep.Catalog = &report.Catalog{Source: w.CatalogPath, SHA256: w.Catalog.SHA256(), From: "$K8SVERIFY_CATALOG", Changes: w.Catalog.Changes(artifacts.Embedded())}
	if len(rep.Catalog.Changes) == 0 {
		t.Fatal("the world's catalog changes nothing of the embedded one")
	}
	return rep
}

// interruptedVerification verifies a small world one artifact at a time
// and cancels the run once the first verdict is in: the report of an
// interrupted run.
func interruptedVerification(t *testing.T) *report.Report {
	t.Helper()
	w := testworld.StartT(t, testworld.Options{Small: true})
	s, err := audit.NewSession(audit.Config{
		Endpoints:   transport.Endpoints{DownloadURL: w.DownloadURL, SBOMURL: w.SBOMURL, Registry: w.Registry, RekorURL: w.RekorURL},
		Timeout:     5 * time.Second,
		Concurrency: 1,
		Trust:       trust.Source{File: w.TrustedRootPath},
		Catalog:     w.Catalog,
	})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := audit.Selection{}.Apply(w.Release)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := s.VerifyReleases(ctx, []*artifacts.Release{rel}, audit.VerifyOptions{}, func(*artifacts.Release, verify.Verdict) { cancel() })
	if err != nil {
		t.Fatal(err)
	}
	rep := report.NewVerification(fullTool, time.Now(), []report.Section{{Release: res[0].Release, Verdicts: res[0].Verdicts}}, nil)
	rep.MarkInterrupted()
	rep.Seconds = 0.5
	if !rep.Interrupted || rep.Summary.NotChecked == 0 || rep.Summary.Error != 0 || rep.Summary.Verified != 1 {
		t.Fatalf("the interrupted report: %s", rep.Summary)
	}
	return rep
}

// worldMirror mirrors a small world's images into an in-process registry,
// once as a dry run and once for real, and reports each as the mirror
// command does.
func worldMirror(t *testing.T) []*report.Report {
	t.Helper()
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindImage}})
	dst := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(dst.Close)
	s, err := audit.NewSession(audit.Config{
		Endpoints: transport.Endpoints{DownloadURL: w.DownloadURL, SBOMURL: w.SBOMURL, Registry: w.Registry, RekorURL: w.RekorURL},
		Timeout:   10 * time.Second,
		Trust:     trust.Source{File: w.TrustedRootPath},
		Catalog:   w.Catalog,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []*report.Report
	for _, dry := range []bool{true, false} {
		req := mirror.Request{Version: w.Version.String(), To: strings.TrimPrefix(dst.URL, "http://") + "/k8s", DryRun: dry}
		res, err := mirror.Copy(context.Background(), s, req)
		if err != nil {
			t.Fatal(err)
		}
		rep := report.NewVerification(fullTool, time.Now(), []report.Section{{Release: res.Release, Verdicts: res.Verdicts}}, res.Warnings)
		c := func(c mirror.Counts) report.MirrorCounts {
			return report.MirrorCounts{Images: c.Images, Signatures: c.Signatures, Tags: c.Tags}
		}
		rep.Mirror = &report.Mirror{To: res.To, DryRun: dry, Copied: c(res.Copied), Present: c(res.Present)}
		if dry {
			would := c(res.WouldCopy)
			rep.Mirror.WouldCopy = &would
		}
		out = append(out, rep)
	}
	return out
}

// TestSchemaRejects: the schema has teeth; each broken report is refused.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	a := artifacts.Artifact{Kind: artifacts.KindBinary, Name: "kubectl", Platform: artifacts.Platform{OS: "linux", Arch: "amd64"}, Location: "https://dl.k8s.io/kubectl"}
	good := report.NewVerification(fullTool, time.Now(), []report.Section{{Verdicts: []verify.Verdict{{Artifact: a, Status: verify.StatusVerified, Reason: "signed"}}}}, nil)
	if err := sch.Validate(instance(t, good)); err != nil {
		t.Fatalf("the good report does not match: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"unknown top-level field", func(m map[string]any) { m["extra"] = true }},
		{"unknown artifact field", func(m map[string]any) { artifact(m)["extra"] = 1 }},
		{"another schema version", func(m map[string]any) { m["schemaVersion"] = 3 }},
		{"unknown kind", func(m map[string]any) { m["kind"] = "audit" }},
		{"unknown status", func(m map[string]any) { artifact(m)["status"] = "ok" }},
		{"verification without a summary", func(m map[string]any) { delete(m, "summary") }},
		{"verdict without a status", func(m map[string]any) { delete(artifact(m), "status") }},
		{"listing with verdicts", func(m map[string]any) { m["kind"] = "listing"; delete(m, "summary") }},
		{"listing with a summary", func(m map[string]any) {
			m["kind"] = "listing"
			delete(artifact(m), "status")
			delete(artifact(m), "reason")
		}},
		{"platform without an arch", func(m map[string]any) { artifact(m)["platform"] = "linux" }},
		{"generatedAt not a time", func(m map[string]any) { m["generatedAt"] = "yesterday" }},
		{"missing artifact name", func(m map[string]any) { delete(artifact(m), "name") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := instance(t, good).(map[string]any)
			tc.edit(m)
			if err := sch.Validate(m); err == nil {
				t.Error("the schema accepts it")
			}
		})
	}
}

func artifact(m map[string]any) map[string]any { return m["artifacts"].([]any)[0].(map[string]any) }

// TestSchemaMatchesGoTypes fails when the schema and the Go types drift
// apart. It walks the report's Go types by reflection from Report: each
// struct is the schema's root (Report) or its $defs entry of the same name
// (Tool: "tool"); each field with a JSON name must be a property of it,
// required unless omitempty/omitzero, of the JSON type its Go type
// encodes to; and every property, required name and object definition of
// the schema must belong to a Go field or type.
func TestSchemaMatchesGoTypes(t *testing.T) {
	doc := schemaDoc(t)
	defs, _ := doc["$defs"].(map[string]any)
	pkg := reflect.TypeFor[report.Report]().PkgPath()
	reached := map[string]bool{}
	type todo struct {
		typ  reflect.Type
		name string
		node map[string]any
	}
	queue := []todo{{reflect.TypeFor[report.Report](), "(root)", doc}}
	for len(queue) > 0 {
		td := queue[0]
		queue = queue[1:]
		for _, nested := range compareStruct(t, td.name, td.typ, td.node) {
			name := defName(nested)
			if reached[name] {
				continue
			}
			reached[name] = true
			if nested.PkgPath() != pkg {
				t.Errorf("%s: the report holds %s, a type of another package: give pkg/report its own type", td.name, nested)
				continue
			}
			def, ok := defs[name].(map[string]any)
			if !ok {
				t.Errorf("Go type %s is not in the schema: add $defs/%s", nested, name)
				continue
			}
			queue = append(queue, todo{nested, "$defs/" + name, def})
		}
	}
	for name, d := range defs {
		if def, _ := d.(map[string]any); def["type"] == "object" && !reached[name] {
			t.Errorf("schema $defs/%s describes no Go type of the report: remove it", name)
		}
	}
}

// compareStruct compares a struct type with its schema object and returns
// the struct types its fields hold.
func compareStruct(t *testing.T, where string, typ reflect.Type, node map[string]any) []reflect.Type {
	t.Helper()
	if node["type"] != "object" || node["additionalProperties"] != false {
		t.Errorf("%s (%s): want \"type\": \"object\" and \"additionalProperties\": false", where, typ)
	}
	props, _ := node["properties"].(map[string]any)
	required := map[string]bool{}
	if rs, ok := node["required"].([]any); ok {
		for _, r := range rs {
			required[r.(string)] = true
		}
	}
	var nested []reflect.Type
	fields := map[string]bool{}
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if f.Anonymous {
			t.Errorf("%s: embedded field %s: the drift test does not follow embedding", where, f.Name)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = true
		optional := slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
		prop, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("Go field %s.%s (JSON %q) is not in the schema's %s properties", typ.Name(), f.Name, name, where)
			continue
		}
		switch {
		case optional && required[name]:
			t.Errorf("%s.%s: the schema requires it, but Go field %s.%s is omitempty", where, name, typ.Name(), f.Name)
		case !optional && !required[name]:
			t.Errorf("%s.%s: Go field %s.%s is always written (no omitempty), but the schema does not require it", where, name, typ.Name(), f.Name)
		}
		nested = append(nested, compareType(t, where+"."+name, f.Type, prop)...)
	}
	for name := range props {
		if !fields[name] {
			t.Errorf("schema property %s.%s is no field of Go type %s", where, name, typ)
		}
	}
	for name := range required {
		if !fields[name] {
			t.Errorf("schema %s requires %q, no field of Go type %s", where, name, typ)
		}
	}
	return nested
}

var timeType = reflect.TypeFor[time.Time]()

// compareType checks that the schema of a property describes the JSON
// encoding/json writes for a Go type, and returns the struct types found.
func compareType(t *testing.T, where string, typ reflect.Type, prop map[string]any) []reflect.Type {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := func(jsonType string) {
		if prop["type"] != jsonType {
			t.Errorf("%s: Go type %s, schema type %v: want %q", where, typ, prop["type"], jsonType)
		}
	}
	switch {
	case typ == timeType:
		want("string")
		if prop["format"] != "date-time" {
			t.Errorf("%s: a time, want \"format\": \"date-time\"", where)
		}
	case typ.Kind() == reflect.Struct:
		if ref := "#/$defs/" + defName(typ); prop["$ref"] != ref {
			t.Errorf("%s: Go type %s, schema %v: want \"$ref\": %q", where, typ, prop, ref)
		}
		return []reflect.Type{typ}
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() != reflect.Uint8:
		want("array")
		items, _ := prop["items"].(map[string]any)
		return compareType(t, where+"[]", typ.Elem(), items)
	case typ.Kind() == reflect.String:
		want("string")
	case typ.Kind() == reflect.Bool:
		want("boolean")
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64:
		want("integer")
	case typ.Kind() == reflect.Float32 || typ.Kind() == reflect.Float64:
		want("number")
	default:
		t.Errorf("%s: Go type %s: the drift test knows no JSON type for it", where, typ)
	}
	return nil
}

// defName is a type's $defs name: "Tool" → "tool".
func defName(typ reflect.Type) string {
	r := []rune(typ.Name())
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// schemaProperties lists every property of the root and of every object
// definition, as "report.kind", "artifact.status".
func schemaProperties(doc map[string]any) []string {
	var out []string
	add := func(name string, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		for p := range props {
			out = append(out, name+"."+p)
		}
	}
	add("report", doc)
	defs, _ := doc["$defs"].(map[string]any)
	for name, d := range defs {
		if def, _ := d.(map[string]any); def["type"] == "object" {
			add(name, def)
		}
	}
	sort.Strings(out)
	return out
}

// cover records in seen each property of node (the root, "report", or a
// $defs entry) that inst has, following $refs and array items.
func cover(doc map[string]any, name string, node map[string]any, inst any, seen map[string]bool) {
	obj, ok := inst.(map[string]any)
	if !ok {
		return
	}
	props, _ := node["properties"].(map[string]any)
	for k, v := range obj {
		seen[name+"."+k] = true
		if p, ok := props[k].(map[string]any); ok {
			coverValue(doc, p, v, seen)
		}
	}
}

func coverValue(doc map[string]any, prop map[string]any, v any, seen map[string]bool) {
	if ref, ok := prop["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		def, _ := doc["$defs"].(map[string]any)[name].(map[string]any)
		cover(doc, name, def, v, seen)
		return
	}
	if items, ok := prop["items"].(map[string]any); ok {
		arr, _ := v.([]any)
		for _, e := range arr {
			coverValue(doc, items, e, seen)
		}
	}
}

// Image archives (.tar) that verified are named as not bound to their
// names and platforms (the release SBOM leaves them out); other files
// are not.
func TestUnboundArchivesAreNotChecked(t *testing.T) {
	rel := &artifacts.Release{Version: artifacts.Version{Major: 1, Minor: 24, Patch: 17}}
	platform := artifacts.Platform{OS: "linux", Arch: "amd64"}
	var vs []verify.Verdict
	for _, name := range []string{"kube-apiserver.tar", "kube-proxy.tar", "kubectl"} {
		vs = append(vs, verify.Verdict{Artifact: artifacts.Artifact{Kind: artifacts.KindBinary, Name: name, Platform: platform}, Status: verify.StatusVerified})
	}
	rep := report.NewVerification(fullTool, time.Now(), []report.Section{{Release: rel, Verdicts: vs}}, nil)
	var got []report.Gap
	for _, g := range rep.NotChecked {
		if g.Kind == report.GapUnboundArchives {
			got = append(got, g)
		}
	}
	if len(got) != 1 || got[0].Count != 2 {
		t.Errorf("not checked: %+v", rep.NotChecked)
	}
}
