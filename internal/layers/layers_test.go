package layers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/k8sverify/k8sverify/"

// forbidden lists, per package directory, imports its non-test files must
// not have (prefixes).
var forbidden = map[string][]string{
	"pkg/verify": {"net/http", "net", "github.com/spf13/cobra", module + "pkg/report", module + "pkg/evidence", module + "pkg/audit", module + "pkg/transport", module + "pkg/pack", module + "pkg/trust", module + "cmd/", module + "internal/"},
	// The signature verifier is below the judge: it knows nothing of
	// artifacts' evidence, verdicts, fetching, packs or trust loading.
	"pkg/sigverify": {"net/http", "net", "github.com/spf13/cobra", module + "pkg/verify", module + "pkg/report", module + "pkg/evidence", module + "pkg/audit", module + "pkg/transport", module + "pkg/pack", module + "pkg/trust", module + "pkg/mirror", module + "cmd/", module + "internal/"},
	"pkg/report":    {"net/http", "net", "github.com/spf13/cobra", module + "pkg/evidence", module + "pkg/audit", module + "pkg/mirror", module + "pkg/transport", module + "pkg/pack", module + "pkg/trust", module + "cmd/", module + "internal/"},
	"pkg/artifacts": {"net/http", "github.com/spf13/cobra", module + "pkg/", module + "cmd/", module + "internal/"},
	"pkg/localfile": {"net/http", "net", "github.com/spf13/cobra", module + "pkg/", module + "cmd/", module + "internal/"},
	// The HTTP stack knows nothing of releases, evidence or verdicts.
	"pkg/transport": {"github.com/spf13/cobra", module + "pkg/", module + "cmd/", module + "internal/"},
	// The pack store fetches nothing: no HTTP, no registry client, no
	// fetcher; it stores and reads back what the judge reads.
	"pkg/pack": {"net/http", "net", "github.com/spf13/cobra", "github.com/google/go-containerregistry/pkg/v1/remote", module + "pkg/evidence", module + "pkg/transport", module + "pkg/trust", module + "pkg/audit", module + "pkg/report", module + "cmd/", module + "internal/"},
	// Trust loading reads files, packs and TUF; it fetches no evidence.
	"pkg/trust": {"github.com/spf13/cobra", module + "pkg/evidence", module + "pkg/audit", module + "pkg/report", module + "cmd/", module + "internal/"},
	// Fetching reads; it neither stores packs, nor loads trust, nor writes
	// registries.
	"pkg/evidence": {"github.com/spf13/cobra", module + "pkg/report", module + "pkg/audit", module + "pkg/trust", module + "pkg/pack", module + "pkg/mirror", module + "cmd/", module + "internal/"},
	// The Rekor client reads the log's API: it knows nothing of releases,
	// fetching, packs, trust loading or verdicts.
	"pkg/rekor": {"github.com/spf13/cobra", module + "pkg/evidence", module + "pkg/report", module + "pkg/audit", module + "pkg/trust", module + "pkg/pack", module + "pkg/mirror", module + "pkg/airgap", module + "pkg/artifacts", module + "cmd/", module + "internal/"},
	// A mirror copies what a session judged: it decides nothing itself
	// (the judge does, through pkg/audit) and reads no pack (the
	// session's source does).
	"pkg/mirror": {"github.com/spf13/cobra", module + "pkg/report", module + "pkg/pack", module + "pkg/trust", module + "cmd/", module + "internal/"},
	// Orchestration writes no registry and no pack: pkg/mirror and
	// pkg/airgap, over it, do.
	"pkg/audit": {"github.com/spf13/cobra", module + "pkg/report", module + "pkg/mirror", module + "pkg/airgap", module + "cmd/", module + "internal/"},
	// Writing a pack stores what a session fetched: it decides nothing,
	// writes no registry.
	"pkg/airgap": {"github.com/spf13/cobra", module + "pkg/report", module + "pkg/mirror", module + "cmd/", module + "internal/"},
	// The SBOM reader lists releases from documents: it fetches through
	// the Opener it is given, and builds on pkg/artifacts alone (allowed).
	"pkg/sbom": {"net/http", "net", "github.com/spf13/cobra", module + "pkg/", module + "cmd/", module + "internal/"},
}

// allowed lists, per package directory, imports exempt from its forbidden
// prefixes.
var allowed = map[string][]string{
	"pkg/sbom": {module + "pkg/artifacts"},
}

func imports(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[p] = name
		}
	}
	return out
}

func TestLayers(t *testing.T) {
	for dir, bad := range forbidden {
		got := imports(t, filepath.Join("..", "..", dir))
		if len(got) == 0 {
			t.Errorf("%s: no imports found; is the path right?", dir)
		}
		for imp, file := range got {
			if slices.Contains(allowed[dir], imp) {
				continue
			}
			for _, b := range bad {
				if imp == b || (strings.HasSuffix(b, "/") && strings.HasPrefix(imp, b)) || strings.HasPrefix(imp, b+"/") && b != "net" {
					t.Errorf("%s/%s imports %s: %s must not depend on it", dir, file, imp, dir)
				}
			}
		}
	}
}

// The CLI is a thin layer: no package of the module but cmd/ imports cobra.
func TestCobraOnlyInCmd(t *testing.T) {
	for dir := range forbidden {
		for imp, file := range imports(t, filepath.Join("..", "..", dir)) {
			if strings.HasPrefix(imp, "github.com/spf13/") {
				t.Errorf("%s/%s imports %s", dir, file, imp)
			}
		}
	}
}

// The library speaks of the library: no string of a package under pkg/
// names a command-line flag (the CLI maps the library's errors to advice).
func TestNoFlagNamesInLibraryMessages(t *testing.T) {
	flag := regexp.MustCompile(`(^|[\s(:"'])--[a-z][a-z-]+`)
	dirs, err := filepath.Glob(filepath.Join("..", "..", "pkg", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no packages under pkg/: %v", err)
	}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if ok && lit.Kind == token.STRING && flag.MatchString(lit.Value) {
					t.Errorf("%s: a message names a flag: %s", fset.Position(lit.Pos()), lit.Value)
				}
				return true
			})
		}
	}
}

// The code cites only what whoever clones the repository can read: its own
// documents and public sources, never a design document kept elsewhere.
func TestNoCitationOutsideTheRepository(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), "DESIGN"+".md") {
			t.Errorf("%s cites DESIGN"+".md, which is not in the repository (cite docs/ARCHITECTURE.md or the public source)", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// maxPackageLines bounds a package's non-test code: a package that grows
// past it does more than one thing (split it along what it talks to, as
// docs/ARCHITECTURE.md describes).
const maxPackageLines = 2500

func TestPackageSize(t *testing.T) {
	for _, root := range []string{"pkg", "cmd"} {
		dirs, err := os.ReadDir(filepath.Join("..", "..", root))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			dir := filepath.Join("..", "..", root, d.Name())
			files, err := filepath.Glob(filepath.Join(dir, "*.go"))
			if err != nil {
				t.Fatal(err)
			}
			lines := 0
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				lines += strings.Count(string(data), "\n")
			}
			if lines > maxPackageLines {
				t.Errorf("%s/%s: %d lines of non-test code, more than %d", root, d.Name(), lines, maxPackageLines)
			}
		}
	}
}
