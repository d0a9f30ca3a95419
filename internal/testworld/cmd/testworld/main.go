// Command testworld serves a complete, signed Kubernetes release on
// loopback for people and scripts:
//
//	go run ./internal/testworld/cmd/testworld -dir DIR [-version v1.24.17] [-latency 50ms] [-fault KIND=TARGET]...
//
// It writes DIR/world.json (URLs, registry, trusted root, artifacts) and
// DIR/env (the K8SVERIFY_* variables), prints one line when ready, and
// serves until interrupted. SIGUSR1 writes the requests and TLS
// handshakes counted since the last one to DIR/requests.json.
//
// Once built, the world serves on one core, unless GOMAXPROCS says
// otherwise (servesOnOneCore).
//
// -cpuprofile FILE profiles the world's own CPU from when it is ready
// until it is interrupted, and writes the profile to FILE (go tool pprof
// reads it): what serving clients costs, without building the world.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

type faultList []testworld.Fault

func (f *faultList) String() string { return fmt.Sprint(*f) }
func (f *faultList) Set(s string) error {
	fault, err := testworld.ParseFault(s)
	if err != nil {
		return err
	}
	*f = append(*f, fault)
	return nil
}

func main() {
	var (
		o      testworld.Options
		faults faultList
		kinds  string
		plats  string
	)
	flag.StringVar(&o.Dir, "dir", "", "directory for world.json, env and trusted_root.json (required)")
	flag.StringVar(&o.Version, "version", "v1.24.17", "release to build: a version of the catalog (any line), several comma separated (v1.36.0,v1.24.17), or a line (1.33: every patch release)")
	flag.DurationVar(&o.Latency, "latency", 0, "latency added to every HTTP request (e.g. 50ms)")
	flag.BoolVar(&o.Small, "small", false, "a small release: linux/amd64 and linux/arm64, two images")
	flag.IntVar(&o.FileSize, "file-size", 1024, "size of each binary and tarball in bytes")
	flag.StringVar(&o.Registry, "registry", "", "push to this registry on loopback (host:port, e.g. distribution's registry) instead of the in-process one")
	flag.StringVar(&kinds, "kind", "", "restrict to kinds, comma separated (binary,tarball,image)")
	flag.StringVar(&plats, "platform", "", "restrict to platforms, comma separated (linux/amd64,linux/s390x)")
	flag.StringVar(&o.TLSDir, "tls", "", "serve HTTPS with the TLS material in this directory (a CA and a server certificate for 127.0.0.1, created if absent); clients trust it with SSL_CERT_FILE=DIR/ca.pem")
	flag.IntVar(&o.MaxStreams, "max-streams", 0, "with -tls: the concurrent HTTP/2 streams each server allows per connection (0: Go's default, 250; RFC 9113 recommends at least 100)")
	tlsOnly := flag.Bool("tls-only", false, "with -tls: create the TLS material (for a registry process to serve) and exit")
	noSBOM := flag.Bool("no-sbom", false, "publish no release SBOM")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of serving (from ready until interrupted) to this file")
	flag.Var(&faults, "fault", "inject a fault KIND=TARGET or KIND*N=TARGET (repeatable); kinds: "+faultKinds())
	flag.Parse()
	o.NoSBOM = *noSBOM
	if *tlsOnly {
		if _, err := testworld.EnsureTLS(o.TLSDir); err != nil || o.TLSDir == "" {
			fmt.Fprintln(os.Stderr, "testworld: -tls-only needs -tls DIR:", err)
			os.Exit(1)
		}
		return
	}
	if o.Dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: testworld -dir DIR [-version V] [-latency D] [-fault KIND=TARGET]...")
		os.Exit(2)
	}
	for _, k := range strings.Split(kinds, ",") {
		if k == "" {
			continue
		}
		kind, err := artifacts.ParseKind(k)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testworld:", err)
			os.Exit(2)
		}
		o.Kinds = append(o.Kinds, kind)
	}
	for _, p := range strings.Split(plats, ",") {
		if p == "" {
			continue
		}
		platform, err := artifacts.ParsePlatform(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testworld:", err)
			os.Exit(2)
		}
		o.Platforms = append(o.Platforms, platform)
	}
	o.Faults = faults
	dir, err := filepath.Abs(o.Dir)
	if err == nil {
		o.Dir = dir
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	w, err := testworld.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testworld:", err)
		os.Exit(1)
	}
	defer w.Close()
	servesOnOneCore()
	env := filepath.Join(w.Dir, "env")
	// The env file names this world's ports: gone with the world.
	defer os.Remove(env)
	var versions []string
	artifacts := 0
	for _, rs := range w.Releases {
		versions = append(versions, rs.Version.String())
		artifacts += len(rs.Release.Artifacts)
	}
	fmt.Printf("testworld ready: %s with %d artifacts in %s; registry %s, download %s, rekor %s, channels %s; env in %s\n",
		strings.Join(versions, ", "), artifacts, time.Since(start).Round(time.Millisecond), w.Registry, w.DownloadURL, w.RekorURL, w.ChannelsURL, env)
	// SIGUSR1 writes the requests and TLS handshakes each server saw since
	// the last one to DIR/requests.json, then counts anew (a script
	// measuring one run: bench/compare-cosign.sh).
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	w.ResetRequests()
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testworld:", err)
			os.Exit(1)
		}
		defer stopProfile()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-usr1:
			if err := writeCounts(w, filepath.Join(w.Dir, "requests.json")); err != nil {
				fmt.Fprintln(os.Stderr, "testworld:", err)
			}
		}
	}
}

// servesOnOneCore has the world serve on one core, unless GOMAXPROCS
// says otherwise. It stands in for remote servers on the machine of the
// client it serves, and what it spends there is not the client's: on a
// second core, its scheduler spins looking for work more than it gains.
// Measured on 2 cores, a v1.24.17 audit at 50 ms per request over plain
// HTTP cost the world 207 ms of CPU with two, 159 ms with one (median of
// 9 fresh worlds each), the client's time the same.
func servesOnOneCore() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// startCPUProfile profiles the process's CPU into path until the
// returned function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "testworld: CPU profile:", err)
		}
	}, nil
}

// writeCounts writes the world's request and handshake counts to path
// (atomically: a reader waits for the file) and resets them.
func writeCounts(w *testworld.World, path string) error {
	data, err := json.Marshal(map[string]any{"requests": w.Requests(), "handshakes": w.Handshakes()})
	if err != nil {
		return err
	}
	w.ResetRequests()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func faultKinds() string {
	var s []string
	for _, k := range append(testworld.FaultKinds, testworld.ChannelFaultKinds...) {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}
