package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr"`
	Skipped int          `xml:"skipped,attr"`
	Time    string       `xml:"time,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// catalogProperties are the properties naming the catalog a report was
// made with.
func catalogProperties(c *Catalog) *junitProperties {
	if c == nil {
		return nil
	}
	p := &junitProperties{Property: []junitProperty{{"k8sverify.catalog.source", c.Source}, {"k8sverify.catalog.sha256", c.SHA256}}}
	if c.From != "" {
		p.Property = append(p.Property, junitProperty{"k8sverify.catalog.from", c.From})
	}
	if len(c.Changes) > 0 {
		p.Property = append(p.Property, junitProperty{"k8sverify.catalog.changes", strings.Join(c.Changes, "; ")})
	}
	return p
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes a JUnit XML report, one test suite per release and
// kind: failed verdicts are failures, errors errors, unsigned and missing
// ones skipped (and those an interrupted run never judged); each failure
// carries its reason and failed check in its body, and every case its
// time. The time of the suites is the run's wall time (Report.Seconds)
// when known: artifacts are checked concurrently, their times overlap.
func WriteJUnit(w io.Writer, r *Report) error {
	var suites []junitSuite
	index := map[string]int{}
	all := junitSuites{Name: "k8sverify", Time: "0"}
	var total float64
	for _, a := range r.Artifacts {
		key := strings.TrimSpace(a.Release + " " + artifacts.Kind(a.Kind).Plural())
		i, ok := index[key]
		if !ok {
			i = len(suites)
			index[key] = i
			suites = append(suites, junitSuite{Name: "k8sverify " + key, Properties: catalogProperties(r.Catalog), Timestamp: r.GeneratedAt.Format(time.RFC3339)})
		}
		s := &suites[i]
		c := junitCase{Name: a.ID(), Classname: strings.TrimSpace("k8sverify." + a.Release + "." + a.Kind), Time: seconds(a.Seconds)}
		m := &junitMessage{Message: oneLine(a.Reason), Type: string(a.Status), Body: caseBody(a)}
		switch a.Status {
		case StatusFailed:
			c.Failure = m
			s.Failures++
		case StatusError:
			c.Error = m
			s.Errors++
		case StatusUnsigned, StatusMissing, StatusNotChecked:
			c.Skipped = m
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
		total += a.Seconds
	}
	for i := range suites {
		var t float64
		for _, c := range suites[i].Cases {
			var x float64
			fmt.Sscan(c.Time, &x)
			t += x
		}
		// Artifacts are checked concurrently: the sum of their times
		// overstates the suite's; the run's wall time bounds it.
		if r.Seconds > 0 {
			t = min(t, r.Seconds)
		}
		suites[i].Time = seconds(t)
		all.Tests += suites[i].Tests
		all.Fails += suites[i].Failures
		all.Errors += suites[i].Errors
		all.Skipped += suites[i].Skipped
	}
	if r.Seconds > 0 {
		total = r.Seconds // the wall time of the run, not the sum of concurrent checks
	}
	all.Time, all.Suites = seconds(total), suites
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(&escaper{w: w, escape: xmlEscape})
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

// caseBody is a failure's full story: reason, failed check, location,
// digest, and each signature's verdict.
func caseBody(a Artifact) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", a.Reason)
	if a.FailedCheck != "" {
		fmt.Fprintf(&b, "failed check: %s\n", a.FailedCheck)
	}
	fmt.Fprintf(&b, "location: %s\n", a.Location)
	if a.Digest != "" {
		fmt.Fprintf(&b, "digest: %s (%s)\n", a.Digest, a.DigestSource)
	}
	for _, s := range a.Signatures {
		who := "unknown signer"
		if s.Signer != nil {
			who = s.Signer.SAN
		}
		state := "verified"
		if !s.Verified {
			state = "rejected: " + s.Error
		}
		fmt.Fprintf(&b, "signature (%s) by %s: %s\n", s.Source, who, state)
	}
	return b.String()
}

// SARIF 2.1.0, the subset code-scanning dashboards read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
	// Properties is the run's property bag: the catalog used.
	Properties *sarifProperties `json:"properties,omitempty"`
}

type sarifProperties struct {
	Catalog *Catalog `json:"k8sverify.catalog,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string    `json:"id"`
	ShortDescription sarifText `json:"shortDescription"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

// sarifRules: one rule per status that is not verified.
var sarifRules = []sarifRule{
	{ID: "k8sverify/failed", ShortDescription: sarifText{"An artifact failed verification: it is not what the release team signed."}},
	{ID: "k8sverify/error", ShortDescription: sarifText{"An artifact could not be checked."}},
	{ID: "k8sverify/unsigned", ShortDescription: sarifText{"An artifact carries no signature."}},
	{ID: "k8sverify/missing", ShortDescription: sarifText{"An artifact is not published."}},
	{ID: "k8sverify/not-checked", ShortDescription: sarifText{"An artifact was never judged: the run was interrupted."}},
}

// WriteSARIF writes a SARIF 2.1.0 log with one result per artifact that is
// not verified: failed ones as errors, the rest as warnings.
func WriteSARIF(w io.Writer, r *Report) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: r.Tool.Name, Version: r.Tool.Version, Rules: sarifRules}}, Results: []sarifResult{}}
	if r.Catalog != nil {
		run.Properties = &sarifProperties{Catalog: r.Catalog}
	}
	for _, a := range r.Artifacts {
		if a.Status == StatusVerified {
			continue
		}
		level := "warning"
		if a.Status == StatusFailed {
			level = "error"
		}
		msg := strings.TrimSpace(a.Release+" "+a.ID()) + ": " + string(a.Status) + ": " + oneLine(a.Reason)
		run.Results = append(run.Results, sarifResult{RuleID: "k8sverify/" + string(a.Status), Level: level, Message: sarifText{msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: a.Location}}}}})
	}
	enc := json.NewEncoder(&escaper{w: w, escape: jsonEscape})
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}
