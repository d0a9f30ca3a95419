package report_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
)

// FuzzRead: a JSON report read back (to render it in another format)
// reads or is an error; what reads renders in every format without
// panicking and round-trips through JSON. Seeds: real reports (f.Add)
// and testdata/fuzz/FuzzRead/. `make fuzz` runs it.
func FuzzRead(f *testing.F) {
	v, err := artifacts.ParseVersion("v1.24.8")
	if err != nil {
		f.Fatal(err)
	}
	rel, err := artifacts.CatalogRelease(v, artifacts.DefaultLocations)
	if err != nil {
		f.Fatal(err)
	}
	rel.Artifacts = rel.Artifacts[:8]
	for _, rep := range []*report.Report{judgedVerification(f), report.NewListing(fullTool, time.Unix(0, 0), rel, nil, nil)} {
		var b bytes.Buffer
		if err := report.WriteJSON(&b, rep); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte(`{"schemaVersion":2,"kind":"verification","artifacts":[{"kind":"image","name":"x","status":"verified","digest":"sha256:00"}]}`))
	f.Add([]byte(`{"schemaVersion":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := report.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		formats := report.ListingFormats
		if rep.Kind != report.KindListing {
			formats = report.Formats
		}
		for _, format := range formats {
			_ = report.Write(io.Discard, rep, format, report.TableOptions{Width: 80, Color: true})
		}
		var once, twice bytes.Buffer
		if err := report.WriteJSON(&once, rep); err != nil {
			return // e.g. a time outside what JSON can hold
		}
		again, err := report.Read(bytes.NewReader(once.Bytes()))
		if err != nil {
			t.Fatalf("the report written does not read again: %v\n%s", err, once.Bytes())
		}
		if err := report.WriteJSON(&twice, again); err != nil || !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("the report does not round-trip: %v\n%s\n%s", err, once.Bytes(), twice.Bytes())
		}
	})
}
