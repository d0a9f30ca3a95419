package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// openPTY opens a pseudo-terminal of cols columns: the side k8sverify
// writes to, and the side the test reads.
func openPTY(t *testing.T, cols int) (tty, ptm *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no pseudo-terminal:", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	return tty, ptm
}

// runOnTerminal runs k8sverify with its stdout on a terminal of cols
// columns and returns what the terminal shows.
func runOnTerminal(t *testing.T, w *testworld.World, cols int, args ...string) (int, string) {
	t.Helper()
	tty, ptm := openPTY(t, cols)
	var shown bytes.Buffer
	read := make(chan struct{})
	go func() {
		_, _ = io.Copy(&shown, ptm) // ends with EIO once the terminal is closed
		close(read)
	}()
	env := map[string]string{"K8SVERIFY_NO_PROGRESS": "1"}
	for _, kv := range w.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	var stderr bytes.Buffer
	code := Run(context.Background(), args, tty, &stderr, func(k string) string { return env[k] })
	tty.Close()
	<-read
	ptm.Close()
	return code, strings.ReplaceAll(shown.String(), "\r\n", "\n")
}

var logged = regexp.MustCompile(`Rekor log index \d+, logged [0-9-]+ [0-9:]+Z`)

// On a terminal of 80 or 200 columns no reason is cut: the identity that
// signed instead, the whole point of the failure, is shown in full, and
// what each verdict covers is said in its row and in the summary.
func TestTableOnTerminal(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	w := testworld.StartT(t, testworld.Options{Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultForeignIdentity, Target: "bin/linux/amd64/kubectl"},
	}})
	for _, cols := range []int{80, 200} {
		code, shown := runOnTerminal(t, w, cols, "verify", "v1.24.17", "--kind", "binary", "--platform", "linux/amd64")
		if code != ExitFailed {
			t.Fatalf("%d columns: exit %d\n%s", cols, code, shown)
		}
		joined := strings.Join(strings.Fields(shown), " ")
		for _, want := range []string{
			"got attacker@evil-project.iam.gserviceaccount.com (issuer https://accounts.google.com) [check: identity]",
			"verified published digest",
			"--download downloads each file and verifies what arrived.",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("%d columns: %q is not shown:\n%s", cols, want, shown)
			}
		}
		for _, line := range strings.Split(shown, "\n") {
			if n := len([]rune(line)); n > cols && !strings.Contains(line, "@") {
				t.Errorf("%d columns: a line of %d:\n%s", cols, n, line)
			}
		}
		golden(t, fmt.Sprintf("verify-terminal-%d.txt", cols), logged.ReplaceAllString(unwrapCatalog(shown), "Rekor log index N, logged TIME"))
	}
}

// unwrapCatalog joins the catalog header's lines: where it wraps depends
// on the length of the world's temporary directory.
func unwrapCatalog(shown string) string {
	head, rest, ok := strings.Cut(shown, "\n\n")
	if !ok || !strings.HasPrefix(head, "Catalog ") {
		return shown
	}
	return strings.Join(strings.Fields(head), " ") + "\n\n" + rest
}

// A terminal that reports 0 columns gets no bar (it cannot be fitted) but
// the lines a file gets: each problem as it is found.
func TestProgressOnTerminalOfNoWidth(t *testing.T) {
	tty, ptm := openPTY(t, 0)
	defer ptm.Close()
	defer tty.Close()
	g := &globalOptions{stderr: tty}
	p := newProgress(g, tty)
	if p.liveOptions != nil {
		t.Fatal("a bar on a terminal of 0 columns")
	}
	var buf bytes.Buffer
	p.w = &buf
	v, _ := artifacts.ParseVersion("v1.24.17")
	rel := &artifacts.Release{Version: v, Artifacts: []artifacts.Artifact{{Kind: artifacts.KindBinary, Name: "kubectl"}}}
	p.start([]*artifacts.Release{rel})
	p.done(rel, verify.Verdict{Artifact: rel.Artifacts[0], Status: verify.StatusFailed})
	p.stop()
	if buf.String() != "[1/1] v1.24.17 binary kubectl: failed\n" {
		t.Errorf("%q", buf.String())
	}
}
