package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/report"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// progress reports on stderr as verdicts arrive. On a terminal it is a
// live bar (done/total, problems so far, rate) with each problem printed
// above it as it is found; elsewhere (a file, a pipe, CI) each problem is
// one line, and nothing else. --quiet and --no-progress turn it off; a
// host given up on is said once, always, and its artifacts not one by
// one. With --debug each decision is logged instead of the bar (the log
// lines would tear it).
//
// The library calls done serially; the bar's tail reads the counters from
// the bar's own goroutine, hence atomics (and no lock held while writing
// to the bar, which waits for that goroutine).
type progress struct {
	w        io.Writer // where lines go: stderr, or above the bar
	problems bool      // print each problem as it is found
	hosts    *hostNotices
	log      *slog.Logger // --debug; nil otherwise
	n        atomic.Int64
	total    atomic.Int64 // artifacts listed; 0 until known
	problemN atomic.Int64

	live  *mpb.Progress // a terminal's bar; nil otherwise
	bar   *mpb.Bar
	width int
	began time.Time
	// liveOptions make the bar; nil: no bar.
	liveOptions []mpb.ContainerOption
}

func newProgress(g *globalOptions, stderr io.Writer) *progress {
	p := &progress{w: stderr, problems: !g.quiet && !g.noProgress, hosts: newHostNotices(stderr), log: g.logger()}
	// A terminal that reports no width (0 columns: some CI consoles,
	// serial lines) gets the lines a file gets: a bar cannot be fitted.
	if t := terminalOf(stderr); t != nil && t.width > 0 && p.problems && p.log == nil {
		p.liveOptions, p.width = []mpb.ContainerOption{mpb.WithOutput(rawWriter(stderr))}, t.width
	}
	return p
}

// start begins the bar for the releases' artifacts (on a terminal).
func (p *progress) start(rels []*artifacts.Release) {
	total := 0
	for _, r := range rels {
		total += len(r.Artifacts)
	}
	p.began = time.Now()
	p.total.Store(int64(total))
	if p.liveOptions == nil || total == 0 {
		return
	}
	opts := append([]mpb.ContainerOption{mpb.WithRefreshRate(100 * time.Millisecond)}, p.liveOptions...)
	if p.width > 0 {
		opts = append(opts, mpb.WithWidth(min(40, p.width/3)))
	}
	p.live = mpb.New(opts...)
	p.bar = p.live.AddBar(int64(total), mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name("verifying "), decor.CountersNoUnit("%d/%d")),
		mpb.AppendDecorators(decor.Any(p.status)))
	// Lines above the bar pass through the same escaping as stderr's.
	p.w = report.NewTerminalWriter(p.live)
	p.hosts.w = p.w
}

// status is the bar's tail: problems so far and the rate.
func (p *progress) status(decor.Statistics) string {
	rate := 0.0
	if d := time.Since(p.began).Seconds(); d > 0 {
		rate = float64(p.n.Load()) / d
	}
	n := p.problemN.Load()
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	return fmt.Sprintf(" %d %s  %.0f/s", n, noun, rate)
}

func (p *progress) done(r *artifacts.Release, v verify.Verdict) {
	n := p.n.Add(1)
	if v.Status != verify.StatusVerified {
		p.problemN.Add(1)
	}
	if p.bar != nil {
		defer p.bar.Increment()
	}
	if p.log != nil {
		logDecision(p.log, r, v)
	}
	if errors.Is(v.Err, context.Canceled) {
		return // interrupted: said once, and the report says which were not checked
	}
	if p.hosts.note(v) {
		return
	}
	if p.problems && v.Status != verify.StatusVerified {
		rel := ""
		if r != nil {
			rel = r.Version.String() + " "
		}
		// [judged/listed]: how far the run is when the problem is found.
		at := ""
		if total := p.total.Load(); total > 0 {
			at = fmt.Sprintf("[%d/%d] ", n, total)
		}
		fmt.Fprintf(p.w, "%s%s%s: %s\n", at, rel, v.Artifact.ID(), v.Status)
	}
}

// stop ends the bar (removed from the terminal: the report follows).
func (p *progress) stop() {
	if p.live == nil {
		return
	}
	if !p.bar.Completed() {
		p.bar.Abort(true) // interrupted, or past the deadline
	}
	p.live.Wait()
}

// logDecision logs a verdict and how each signature fared (--debug).
func logDecision(l *slog.Logger, r *artifacts.Release, v verify.Verdict) {
	attrs := []any{"artifact", v.Artifact.ID(), "status", v.Status, "reason", v.Reason}
	if r != nil {
		attrs = append(attrs, "release", r.Version.String())
	}
	if v.Digest != "" {
		attrs = append(attrs, "digest", v.Digest, "digest-source", v.DigestSource)
	}
	l.Debug("decision", attrs...)
	for _, s := range v.Signatures {
		sa := []any{"artifact", v.Artifact.ID(), "source", s.Source, "location", s.Location}
		for _, c := range s.Checks {
			if !c.OK {
				sa = append(sa, "failed-check", c.Name, "expected", c.Expected, "actual", c.Actual)
				break
			}
		}
		if s.Signer != nil {
			sa = append(sa, "signer", s.Signer.SAN)
		}
		if s.LogIndex != nil {
			sa = append(sa, "log-index", *s.LogIndex)
		}
		if s.Err != nil {
			sa = append(sa, "error", s.Err)
		}
		l.Debug("signature", sa...)
	}
}
