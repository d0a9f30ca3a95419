package testworld

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/go-openapi/strfmt"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

// RekorLog is a Rekor v1 transparency log in memory: one Merkle tree
// (transparency-dev/merkle) whose entries carry signed entry timestamps and
// whose inclusion proofs come with signed checkpoints.
type RekorLog struct {
	key     *ecdsa.PrivateKey
	signer  signature.SignerVerifier
	logID   [32]byte
	treeID  int64
	baseURL string

	mu      sync.RWMutex
	tree    *testonly.Tree
	entries []*LogEntry
	byUUID  map[string]*LogEntry
	byHash  map[string][]string
}

// LogEntry is one entry of the log.
type LogEntry struct {
	Index          int64
	UUID           string // the entry UUID: tree ID and leaf hash, hex
	Body           []byte // canonicalized Rekor entry (e.g. hashedrekord)
	IntegratedTime int64
	SET            []byte // signed entry timestamp
	ArtifactHash   string // "sha256:<hex>", the index key
}

// newLogKey makes a transparency log's key: its signer and its log ID.
func newLogKey() (*ecdsa.PrivateKey, signature.SignerVerifier, [32]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, [32]byte{}, err
	}
	signer, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		return nil, nil, [32]byte{}, err
	}
	id, err := keyID(key.Public())
	return key, signer, id, err
}

// NewRekorLog creates an empty log served at baseURL.
func NewRekorLog(baseURL string) (*RekorLog, error) {
	key, signer, id, err := newLogKey()
	if err != nil {
		return nil, err
	}
	return &RekorLog{
		key: key, signer: signer, logID: id, treeID: 1193050959916656506, baseURL: baseURL,
		tree: testonly.New(rfc6962.DefaultHasher), byUUID: map[string]*LogEntry{}, byHash: map[string][]string{},
	}, nil
}

// LogIDHex is the log ID (SHA-256 of the log's public key), hex encoded.
func (l *RekorLog) LogIDHex() string { return hex.EncodeToString(l.logID[:]) }

// PublicKeyPEM returns the log's public key (for cosign's
// SIGSTORE_REKOR_PUBLIC_KEY and GET /api/v1/log/publicKey).
func (l *RekorLog) PublicKeyPEM() []byte {
	pem, err := cryptoutils.MarshalPublicKeyToPEM(l.key.Public())
	if err != nil {
		panic(err)
	}
	return pem
}

// TransparencyLog describes the log for a trusted root.
func (l *RekorLog) TransparencyLog(start time.Time) *root.TransparencyLog {
	return transparencyLog(l.baseURL, l.logID, l.key, start)
}

// transparencyLog describes a log (Rekor v1 or v2) for a trusted root.
func transparencyLog(baseURL string, id [32]byte, key *ecdsa.PrivateKey, start time.Time) *root.TransparencyLog {
	return &root.TransparencyLog{
		BaseURL:             baseURL,
		ID:                  id[:],
		ValidityPeriodStart: start,
		HashFunc:            crypto.SHA256,
		PublicKey:           key.Public(),
		SignatureHashFunc:   crypto.SHA256,
	}
}

// Append adds an entry body, indexed by artifactHash ("sha256:<hex>"), at
// the integrated time, and returns the entry with its SET.
func (l *RekorLog) Append(body []byte, artifactHash string, integrated time.Time) (*LogEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	index := int64(l.tree.Size())
	leaf := rfc6962.DefaultHasher.HashLeaf(body)
	e := &LogEntry{
		Index:          index,
		UUID:           fmt.Sprintf("%016x%x", l.treeID, leaf),
		Body:           body,
		IntegratedTime: integrated.Unix(),
		ArtifactHash:   artifactHash,
	}
	set, err := l.SignSET(e, l.signer)
	if err != nil {
		return nil, err
	}
	e.SET = set
	l.tree.AppendData(body)
	l.entries = append(l.entries, e)
	l.byUUID[e.UUID] = e
	l.byUUID[e.UUID[16:]] = e
	l.byHash[artifactHash] = append(l.byHash[artifactHash], e.UUID)
	return e, nil
}

// SignSET signs the entry's signed entry timestamp with signer: the
// canonical JSON of body, integrated time, log ID and log index.
func (l *RekorLog) SignSET(e *LogEntry, signer signature.Signer) ([]byte, error) {
	payload := tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(e.Body),
		IntegratedTime: e.IntegratedTime,
		LogIndex:       e.Index,
		LogID:          l.LogIDHex(),
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	canonical, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, err
	}
	return signer.SignMessage(bytesReader(canonical))
}

// Entry returns the entry with the UUID (with or without tree ID prefix).
func (l *RekorLog) Entry(uuid string) (*LogEntry, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e, ok := l.byUUID[uuid]
	return e, ok
}

// EntryAt returns the entry at a log index.
func (l *RekorLog) EntryAt(index int64) (*LogEntry, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if index < 0 || index >= int64(len(l.entries)) {
		return nil, false
	}
	return l.entries[index], true
}

// Search returns the UUIDs of the entries for an artifact hash.
func (l *RekorLog) Search(artifactHash string) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]string(nil), l.byHash[artifactHash]...)
}

func (l *RekorLog) origin() string {
	host := "rekor.testworld.local"
	if u, err := url.Parse(l.baseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return host
}

// InclusionProof proves the entry's inclusion in the current tree, with a
// checkpoint signed by the log.
func (l *RekorLog) InclusionProof(e *LogEntry) (*models.InclusionProof, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	size := l.tree.Size()
	hashes, err := l.tree.InclusionProof(uint64(e.Index), size)
	if err != nil {
		return nil, err
	}
	rootHash := l.tree.Hash()
	cp, err := util.CreateAndSignCheckpoint(context.Background(), l.origin(), l.treeID, size, rootHash, l.signer)
	if err != nil {
		return nil, err
	}
	hexHashes := make([]string, len(hashes))
	for i, h := range hashes {
		hexHashes[i] = hex.EncodeToString(h)
	}
	rh := hex.EncodeToString(rootHash)
	treeSize, index, cps := int64(size), e.Index, string(cp)
	return &models.InclusionProof{TreeSize: &treeSize, RootHash: &rh, LogIndex: &index, Hashes: hexHashes, Checkpoint: &cps}, nil
}

// Info is GET /api/v1/log: the tree head with a signed checkpoint.
func (l *RekorLog) Info() (*models.LogInfo, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	size := l.tree.Size()
	rootHash := l.tree.Hash()
	cp, err := util.CreateAndSignCheckpoint(context.Background(), l.origin(), l.treeID, size, rootHash, l.signer)
	if err != nil {
		return nil, err
	}
	rh, ts, cps, tid := hex.EncodeToString(rootHash), int64(size), string(cp), fmt.Sprint(l.treeID)
	return &models.LogInfo{RootHash: &rh, TreeSize: &ts, SignedTreeHead: &cps, TreeID: &tid}, nil
}

// Anon renders the entry as Rekor's API does, with SET and (if proof is
// non-nil) inclusion proof.
func (l *RekorLog) Anon(e *LogEntry, set []byte, proof *models.InclusionProof) models.LogEntryAnon {
	body := base64.StdEncoding.EncodeToString(e.Body)
	logID := l.LogIDHex()
	idx, it := e.Index, e.IntegratedTime
	return models.LogEntryAnon{
		Body:           body,
		IntegratedTime: &it,
		LogID:          &logID,
		LogIndex:       &idx,
		Verification: &models.LogEntryAnonVerification{
			SignedEntryTimestamp: strfmt.Base64(set),
			InclusionProof:       proof,
		},
	}
}
