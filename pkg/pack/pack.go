package pack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/localfile"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// SchemaVersion is the version of an evidence pack's manifest.json.
// Version 2 stores each artifact's evidence as the judge reads it; version
// 3 adds the release SBOM, so that a release is listed offline as it was
// online (its files bound to their names and platforms by the SBOM's
// sums); version 4 the independent channels read for a release the
// catalog holds no sums for (its line's CHANGELOG, the image promoter's
// manifest). Packs of earlier versions are refused with a request to
// fetch them again.
const SchemaVersion = 4

// PackSBOMName is where a pack keeps the release SBOM, as read.
const SBOMName = "sbom/release"

// ChangelogName and PromoterName are where a pack keeps the channel
// documents, as read.
const (
	ChangelogName = "channels/CHANGELOG.md"
	PromoterName  = "channels/images.yaml"
)

// ManifestName is the pack's manifest, written last: a pack without it is
// incomplete (an interrupted fetch) and never verifies.
const ManifestName = "manifest.json"

// Limits of what is read from a pack.
const (
	maxManifest   = 64 << 20
	maxPackBundle = 16 << 20
	maxPackBlob   = 4 << 20
	maxPayload    = 1 << 20
	// The image content of a pack's OCI layout is held to a registry
	// read's limits: a pack is no laxer than the registry it came from.
	maxImageManifest = 4 << 20
	maxIndexChildren = 256
	maxImageConfig   = 1 << 20
)

// Errors of evidence packs.
var (
	// ErrIncomplete: no manifest (an interrupted fetch, or no pack), or
	// a manifest marked incomplete (some evidence could not be fetched).
	// The error is an *IncompleteError.
	ErrIncomplete = errors.New("incomplete evidence pack")
	// ErrMalformed: the pack is malformed or points outside itself.
	ErrMalformed = errors.New("malformed evidence pack")
	// ErrVersion: the pack was written by another version of k8sverify.
	ErrVersion = errors.New("evidence pack of another schema version")
	// ErrConflict: the directory holds an evidence pack a fetch cannot
	// add to (another release, or unreadable).
	ErrConflict = errors.New("the directory holds another evidence pack")
	// ErrNotPackDir: the directory holds files but no evidence pack: a
	// fetch would write its files among them.
	ErrNotPackDir = errors.New("the directory is not empty and holds no evidence pack")
	// ErrNoTUF: the pack carries no TUF metadata to take the trusted
	// root from (it was fetched without it).
	ErrNoTUF = errors.New("the pack carries no TUF metadata")
)

// Manifest describes an evidence pack: the release, and for each artifact
// the evidence fetched for it.
type Manifest struct {
	SchemaVersion int       `json:"schemaVersion"`
	Tool          string    `json:"tool"`
	Created       time.Time `json:"created"`
	Release       string    `json:"release"`
	// Complete is set when every artifact's evidence could be fetched.
	Complete bool `json:"complete"`
	// TUF is the directory of the Sigstore TUF repository's metadata, as
	// fetched, to be verified offline from the TUF root embedded in
	// k8sverify; "" when the pack carries none.
	TUF string `json:"tuf,omitempty"`
	// TUFFetched is when the TUF metadata was fetched (and verified, from
	// the pack's own files): the time it can be verified as of, when it
	// has expired since (an old pack carried to an air-gapped site).
	TUFFetched time.Time `json:"tufFetched,omitzero"`
	// Images is the OCI image layout of the images, if any.
	Images string `json:"images,omitempty"`
	// SBOM is the release SBOM as fetched (PackSBOMName); "" when it could
	// not be had.
	SBOM string `json:"sbom,omitempty"`
	// Changelog and Promoter are the line's CHANGELOG and the image
	// promoter's manifest as read (ChangelogName, PromoterName); "" when
	// not read (the catalog holds the release's sums) or not reachable.
	Changelog string  `json:"changelog,omitempty"`
	Promoter  string  `json:"promoter,omitempty"`
	Artifacts []Entry `json:"artifacts"`
}

// Entry is one artifact of a pack and its evidence (verify.Evidence
// as stored: errors as their messages, bundles, payloads and image blobs as
// files of the pack).
type Entry struct {
	Kind     artifacts.Kind     `json:"kind"`
	Name     string             `json:"name"`
	Platform artifacts.Platform `json:"platform,omitzero"`
	Location string             `json:"location"`

	Missing     string      `json:"missing,omitempty"`
	Unavailable string      `json:"unavailable,omitempty"`
	Malformed   string      `json:"malformed,omitempty"`
	Digests     []Digest    `json:"digests,omitempty"`
	Image       *Image      `json:"image,omitempty"`
	Signatures  []Signature `json:"signatures,omitempty"`
	// File is the relative path of the artifact itself (fetch --with-files).
	File string `json:"file,omitempty"`
}

// Digest is a digest and the channel it came from.
type Digest struct {
	Digest  string         `json:"digest"`
	Channel verify.Channel `json:"channel"`
}

// Image is an image as served: its manifest, configuration and
// release index, stored content-addressed below blobs/sha256/.
type Image struct {
	MediaType string `json:"mediaType"`
	Manifest  string `json:"manifest"`
	Config    string `json:"config,omitempty"`
	Index     string `json:"index,omitempty"`
	IndexRef  string `json:"indexRef,omitempty"`
}

// Signature is one signature's evidence in a pack.
type Signature struct {
	Source      verify.SignatureSource `json:"source"`
	Location    string                 `json:"location,omitempty"`
	Bundle      string                 `json:"bundle,omitempty"`
	Payload     string                 `json:"payload,omitempty"`
	Malformed   string                 `json:"malformed,omitempty"`
	Unavailable string                 `json:"unavailable,omitempty"`
	LogLookup   string                 `json:"logLookup,omitempty"`
	// References name the registry artifacts that carried the signature
	// where it was fetched (verify.SignatureEvidence.References).
	References []string `json:"references,omitempty"`
}

// Key identifies an artifact: kind, name and platform.
func (a Entry) Key() string {
	return artifacts.Artifact{Kind: a.Kind, Name: a.Name, Platform: a.Platform}.ID()
}

// Writer writes an evidence pack. Every file is written atomically
// (temporary file, then rename) below the pack's directory only.
type Writer struct {
	root *os.Root
	dir  string
}

// Create opens dir (created if needed) for writing a pack, holding its
// lock until Close: a second writer gets ErrPackLocked. A manifest from an
// earlier fetch is removed first, so an interrupted fetch never leaves a
// pack that looks complete.
func Create(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("evidence pack %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("evidence pack %s: %w", dir, err)
	}
	if err := lockPack(root, dir); err != nil {
		root.Close()
		return nil, err
	}
	if err := root.Remove(ManifestName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		unlockPack(root)
		root.Close()
		return nil, fmt.Errorf("evidence pack %s: remove old manifest: %w", dir, err)
	}
	return &Writer{root: root, dir: dir}, nil
}

// ExtendPack opens dir for writing the pack of release, keeping what an
// earlier fetch of the same release wrote there: it returns that fetch's
// manifest (nil when there is none) for the caller to merge its entries
// with the new ones. A pack of another release, or one that cannot be
// read, is refused and left as it is.
func Extend(dir, release string) (*Writer, *Manifest, error) {
	var prev *Manifest
	p, err := Open(dir, AllowIncomplete())
	switch {
	case err == nil:
		prev = p.Manifest
		p.Close()
		if prev.Release != release {
			return nil, nil, fmt.Errorf("%w: %s holds the evidence pack of %s, not %s: write the pack of %s into another directory",
				ErrConflict, dir, prev.Release, release, release)
		}
	case errors.Is(err, ErrIncomplete), errors.Is(err, fs.ErrNotExist):
		// Nothing to keep: a new pack, or an interrupted fetch.
		if err := checkPackDir(dir); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("%w: %v: write the pack into another directory, or empty this one", ErrConflict, err)
	}
	w, err := Create(dir)
	return w, prev, err
}

// checkPackDir refuses a directory that holds files but no evidence pack
// (neither its manifest nor the lock of a fetch that was killed while
// writing it): a fetch would write its files among files that are not
// its own. A directory that does not exist yet, or is empty, is a new
// pack.
func checkPackDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("evidence pack %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() == ManifestName || e.Name() == packLockName {
			return nil
		}
	}
	if len(entries) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w (no %s): write the pack into a new or empty directory", dir, ErrNotPackDir, ManifestName)
}

// Close releases the pack directory and its lock.
func (w *Writer) Close() error {
	unlockPack(w.root)
	return w.root.Close()
}

// WriteFile writes data at rel (a slash-separated path inside the pack).
func (w *Writer) WriteFile(rel string, data []byte) error {
	return w.Write(rel, func(f io.Writer) error {
		_, err := f.Write(data)
		return err
	})
}

// Write streams content produced by fill to rel, atomically.
func (w *Writer) Write(rel string, fill func(io.Writer) error) error {
	if err := CheckPath(rel); err != nil {
		return err
	}
	if dir := path.Dir(rel); dir != "." {
		if err := w.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("evidence pack: %w", err)
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(rel), ".partial-"+hex.EncodeToString(rnd[:])+"-"+path.Base(rel))
	f, err := w.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("evidence pack: %w", err)
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(tmp, rel)
	}
	if err != nil {
		_ = w.root.Remove(tmp)
		return fmt.Errorf("evidence pack: write %s: %w", rel, err)
	}
	return nil
}

// ReadFile reads back a small file written to the pack (at most limit
// bytes), as Pack.ReadFile reads it: to prove that what was written can be
// used on its own before the manifest says so.
func (w *Writer) ReadFile(rel string, limit int64) ([]byte, error) {
	return readIn(w.root, rel, limit)
}

// WriteBundle writes a bundle as protobuf-specs JSON (.sigstore.json).
func (w *Writer) WriteBundle(rel string, b *bundle.Bundle) error {
	data, err := protojson.Marshal(b.Bundle)
	if err != nil {
		return fmt.Errorf("evidence pack: encode bundle: %w", err)
	}
	return w.WriteFile(rel, data)
}

// Finish writes manifest.json, last.
func (w *Writer) Finish(m *Manifest) error {
	m.SchemaVersion = SchemaVersion
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return w.WriteFile(ManifestName, append(data, '\n'))
}

// Pack is an evidence pack opened for reading. Every read stays inside
// the pack's directory: relative paths only, no "..", no symlink leading
// out (os.Root).
type Pack struct {
	Dir      string
	Manifest *Manifest
	root     *os.Root
}

// IncompleteError is the refusal of a pack whose fetch did not complete.
// Release is "" when the pack has no manifest at all.
type IncompleteError struct {
	Dir, Release string
	why          string
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrIncomplete, e.Dir, e.why)
}

// Is makes errors.Is(err, ErrIncomplete) hold.
func (e *IncompleteError) Is(target error) bool { return target == ErrIncomplete }

// OpenOption changes what Open accepts.
type OpenOption func(*openOptions)

type openOptions struct{ allowIncomplete bool }

// AllowIncomplete opens a pack whose manifest is marked incomplete (by
// default refused with ErrIncomplete): only a fetch adding to the pack
// wants it, never a reader that verifies from it.
func AllowIncomplete() OpenOption { return func(o *openOptions) { o.allowIncomplete = true } }

// Open opens and checks an evidence pack. A pack with no manifest, or
// with a manifest marked incomplete (its fetch could not have every
// artifact's evidence, or was interrupted), is refused with an
// *IncompleteError unless AllowIncomplete is given.
func Open(dir string, opts ...OpenOption) (*Pack, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("evidence pack %s: %w", dir, err)
	}
	p := &Pack{Dir: dir, root: root}
	data, err := p.read(ManifestName, maxManifest)
	if errors.Is(err, fs.ErrNotExist) {
		root.Close()
		return nil, &IncompleteError{Dir: dir, why: "has no " + ManifestName + " (not an evidence pack, or its fetch was interrupted)"}
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	var version struct {
		SchemaVersion int `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &version); err == nil && version.SchemaVersion != SchemaVersion {
		root.Close()
		return nil, fmt.Errorf("%w: %s has schema version %d; this k8sverify reads version %d: fetch the pack again with it (k8sverify fetch)", ErrVersion, dir, version.SchemaVersion, SchemaVersion)
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		root.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, ManifestName, err)
	}
	if m.SchemaVersion != SchemaVersion {
		root.Close()
		return nil, fmt.Errorf("%w: %s has schema version %d; this k8sverify reads version %d: fetch the pack again with it (k8sverify fetch)", ErrVersion, dir, m.SchemaVersion, SchemaVersion)
	}
	if !m.Complete && !o.allowIncomplete {
		root.Close()
		return nil, &IncompleteError{Dir: dir, Release: m.Release,
			why: "is marked incomplete: the fetch of " + m.Release + " could not have every artifact's evidence, or was interrupted; fetch it again to complete it"}
	}
	p.Manifest = &m
	return p, nil
}

// Close releases the pack.
func (p *Pack) Close() error { return p.root.Close() }

// ReadBundle reads a bundle of the pack.
func (p *Pack) ReadBundle(rel string) (*bundle.Bundle, error) {
	data, err := p.read(rel, maxPackBundle)
	if err != nil {
		return nil, err
	}
	// As bundle.UnmarshalJSON, but for the log entries, which the verifier
	// parses once (sigverify.NewBundle): a pack's bundle is held to the form
	// of one fetched online.
	pb := new(protobundle.Bundle)
	if err := protojson.Unmarshal(data, pb); err != nil {
		return nil, fmt.Errorf("%w: bundle %s: %v", verify.ErrEvidenceMalformed, rel, err)
	}
	b, err := sigverify.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: bundle %s: %v", verify.ErrEvidenceMalformed, rel, err)
	}
	return b, nil
}

// ReadFile reads a small file of the pack (at most limit bytes).
func (p *Pack) ReadFile(rel string, limit int64) ([]byte, error) { return p.read(rel, limit) }

// Open opens a regular file of the pack for streaming: anything else (a
// FIFO that would block, a device, a directory) is refused, and the open
// never blocks.
func (p *Pack) Open(rel string) (*os.File, error) {
	if err := CheckPath(rel); err != nil {
		return nil, err
	}
	f, err := localfile.OpenIn(p.root, rel)
	if errors.Is(err, localfile.ErrNotRegular) {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	} else if err != nil {
		return nil, fmt.Errorf("evidence pack: %w", err)
	}
	return f, nil
}

func (p *Pack) read(rel string, limit int64) ([]byte, error) { return readIn(p.root, rel, limit) }

func readIn(root *os.Root, rel string, limit int64) ([]byte, error) {
	if err := CheckPath(rel); err != nil {
		return nil, err
	}
	data, err := localfile.ReadIn(root, rel, limit)
	switch {
	case errors.Is(err, localfile.ErrNotRegular), errors.Is(err, localfile.ErrTooLarge):
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, notInPack(rel)
	case err != nil:
		return nil, fmt.Errorf("evidence pack: %w", err)
	}
	return data, nil
}

// notInPack is the error of a file the pack should hold and does not: a
// malformed pack (ErrMalformed), and a file that does not exist
// (fs.ErrNotExist).
type notInPack string

func (e notInPack) Error() string {
	return fmt.Sprintf("%v: %s is not in the pack", ErrMalformed, string(e))
}

func (e notInPack) Is(target error) bool { return target == ErrMalformed || target == fs.ErrNotExist }

// CheckPath accepts a slash-separated relative path inside the pack.
func CheckPath(rel string) error {
	if rel == "" || path.IsAbs(rel) || strings.Contains(rel, `\`) || !fs.ValidPath(rel) {
		return fmt.Errorf("%w: path %q is not inside the pack", ErrMalformed, rel)
	}
	return nil
}
