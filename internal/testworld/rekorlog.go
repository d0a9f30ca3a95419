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

// Tree IDs of the world's Rekor shards: those of the public-good
// instance. Its first tree, 3904496407287907110 (entry UUIDs beginning
// 362f8ecba72f4326), was frozen about 2022-06-07 (sigstore/rekor#648;
// the sharding procedure freezes a tree and starts a new one,
// sigstore/rekor#806): v1.24.0 and v1.24.1 were logged there. Later 2022
// and 2023 entries are in tree 2605736670972794746 (UUIDs beginning
// 24296fb24b8ad77a), itself no longer the active tree. The exact hour of
// the first freeze is not public; the world freezes at the start of
// FirstShardFrozen.
const (
	FirstTreeID    int64 = 3904496407287907110
	InactiveTreeID int64 = 2605736670972794746
	ActiveTreeID   int64 = 1193050959916656506
)

// FirstShardFrozen is when the world's first shard stops taking entries.
var FirstShardFrozen = time.Date(2022, 6, 7, 0, 0, 0, 0, time.UTC)

// RekorLog is a Rekor v1 transparency log in memory, sharded as the
// public-good instance is: each shard a Merkle tree (transparency-dev/merkle)
// of its own, entries numbered across shards (the log index of an entry)
// and within their tree (the index its inclusion proof proves), every
// shard signed with the same key. Entries carry signed entry timestamps;
// inclusion proofs come with signed checkpoints naming their tree.
type RekorLog struct {
	key     *ecdsa.PrivateKey
	signer  signature.SignerVerifier
	logID   [32]byte
	baseURL string

	mu      sync.RWMutex
	cpMu    sync.Mutex // guards the shards' checkpoints (checkpointOf)
	shards  []*shard
	active  int
	entries []*LogEntry // by log index
	byUUID  map[string]*LogEntry
	byLeaf  map[string][]*LogEntry // by leaf hash (hex): copies in several shards
	byHash  map[string][]string
}

// shard is one tree of the log.
type shard struct {
	treeID int64
	// frozen: the shard takes no entry integrated from then on (zero:
	// until Rotate).
	frozen  time.Time
	tree    *testonly.Tree
	entries []*LogEntry
	// checkpoint is the signed checkpoint of the tree at checkpointSize,
	// once the shard is inactive (checkpointOf).
	checkpoint     []byte
	checkpointSize uint64
}

// LogEntry is one entry of the log.
type LogEntry struct {
	Index          int64 // the log index, across shards
	TreeID         int64
	TreeIndex      int64  // the index within its tree
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

// NewRekorLog creates a log served at baseURL with three empty shards:
// until Rotate, an entry goes to the first (FirstTreeID) or the second
// (InactiveTreeID) by its integrated time, as the public-good log took
// them; after, to the active one (ActiveTreeID).
func NewRekorLog(baseURL string) (*RekorLog, error) {
	key, signer, id, err := newLogKey()
	if err != nil {
		return nil, err
	}
	return &RekorLog{
		key: key, signer: signer, logID: id, baseURL: baseURL,
		shards: []*shard{
			{treeID: FirstTreeID, frozen: FirstShardFrozen, tree: testonly.New(rfc6962.DefaultHasher)},
			{treeID: InactiveTreeID, tree: testonly.New(rfc6962.DefaultHasher)},
			{treeID: ActiveTreeID, tree: testonly.New(rfc6962.DefaultHasher)},
		},
		byUUID: map[string]*LogEntry{}, byLeaf: map[string][]*LogEntry{}, byHash: map[string][]string{},
	}, nil
}

// Rotate makes the last shard the active one: entries appended from now
// on go there, as Rekor's did when it rotated its tree.
func (l *RekorLog) Rotate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active = len(l.shards) - 1
}

// shardAt is the shard taking an entry integrated at t: the active one
// after Rotate; before, the first not frozen at t.
func (l *RekorLog) shardAt(t time.Time) (int, *shard) {
	if l.active == len(l.shards)-1 {
		return l.active, l.shards[l.active]
	}
	for i, sh := range l.shards[:len(l.shards)-1] {
		if sh.frozen.IsZero() || t.Before(sh.frozen) {
			return i, sh
		}
	}
	return l.active, l.shards[l.active]
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
// the integrated time, to the active shard, and returns the entry with
// its SET. The same body may be appended again: another entry (a copy),
// as Rekor accepts it in another shard.
func (l *RekorLog) Append(body []byte, artifactHash string, integrated time.Time) (*LogEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, sh := l.shardAt(integrated)
	leaf := rfc6962.DefaultHasher.HashLeaf(body)
	e := &LogEntry{
		Index:          int64(len(l.entries)),
		TreeID:         sh.treeID,
		TreeIndex:      int64(sh.tree.Size()),
		UUID:           fmt.Sprintf("%016x%x", sh.treeID, leaf),
		Body:           body,
		IntegratedTime: integrated.Unix(),
		ArtifactHash:   artifactHash,
	}
	set, err := l.SignSET(e, l.signer)
	if err != nil {
		return nil, err
	}
	e.SET = set
	sh.tree.AppendData(body)
	sh.entries = append(sh.entries, e)
	l.entries = append(l.entries, e)
	l.byUUID[e.UUID] = e
	l.byLeaf[hex.EncodeToString(leaf)] = append(l.byLeaf[hex.EncodeToString(leaf)], e)
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

// Entry returns the entry with the UUID; a leaf hash without tree ID
// names the earliest entry of that body.
func (l *RekorLog) Entry(uuid string) (*LogEntry, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if e, ok := l.byUUID[uuid]; ok {
		return e, true
	}
	if es := l.byLeaf[uuid]; len(es) > 0 {
		return es[0], true
	}
	return nil, false
}

// bodies returns the bodies of the log's entries, by log index.
func (l *RekorLog) bodies() [][]byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([][]byte, len(l.entries))
	for i, e := range l.entries {
		out[i] = e.Body
	}
	return out
}

// inactiveEntries returns the entries of the shards that take no more
// entries: once the log has rotated, every shard but the active one.
func (l *RekorLog) inactiveEntries() []*LogEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.active != len(l.shards)-1 {
		return nil
	}
	var out []*LogEntry
	for _, sh := range l.shards[:l.active] {
		out = append(out, sh.entries...)
	}
	return out
}

// EntriesOf returns every entry of a leaf hash (hex): an entry and its
// copies in other shards.
func (l *RekorLog) EntriesOf(leaf string) []*LogEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]*LogEntry(nil), l.byLeaf[leaf]...)
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

// InclusionProof proves the entry's inclusion in its tree as it is now,
// with a checkpoint of that tree signed by the log.
func (l *RekorLog) InclusionProof(e *LogEntry) (*models.InclusionProof, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	sh := l.shardOf(e.TreeID)
	if sh == nil {
		return nil, fmt.Errorf("no tree %d", e.TreeID)
	}
	size := sh.tree.Size()
	hashes, err := sh.tree.InclusionProof(uint64(e.TreeIndex), size)
	if err != nil {
		return nil, err
	}
	rootHash := sh.tree.Hash()
	cp, err := l.checkpointOf(sh, size, rootHash)
	if err != nil {
		return nil, err
	}
	hexHashes := make([]string, len(hashes))
	for i, h := range hashes {
		hexHashes[i] = hex.EncodeToString(h)
	}
	rh := hex.EncodeToString(rootHash)
	treeSize, index, cps := int64(size), e.TreeIndex, string(cp)
	return &models.InclusionProof{TreeSize: &treeSize, RootHash: &rh, LogIndex: &index, Hashes: hexHashes, Checkpoint: &cps}, nil
}

// checkpointOf signs a checkpoint of the shard's tree at size and root
// hash. An inactive shard's is signed once, as Rekor signs those of its
// inactive shards once, when it starts, and serves them with every
// inclusion proof and log info since (rekor pkg/api/api.go
// cachedCheckpoints, pkg/api/entries.go logEntryFromLeaf); the active
// shard's is signed for each answer. Callers hold l.mu, for reading at
// least.
func (l *RekorLog) checkpointOf(sh *shard, size uint64, rootHash []byte) ([]byte, error) {
	sign := func() ([]byte, error) {
		return util.CreateAndSignCheckpoint(context.Background(), l.origin(), sh.treeID, size, rootHash, l.signer)
	}
	if l.active != len(l.shards)-1 || sh == l.shards[l.active] {
		return sign() // active (or, before Rotate, any)
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if sh.checkpoint != nil && sh.checkpointSize == size {
		return sh.checkpoint, nil
	}
	cp, err := sign()
	if err != nil {
		return nil, err
	}
	sh.checkpoint, sh.checkpointSize = cp, size
	return cp, nil
}

func (l *RekorLog) shardOf(treeID int64) *shard {
	for _, sh := range l.shards {
		if sh.treeID == treeID {
			return sh
		}
	}
	return nil
}

// Info is GET /api/v1/log: the active tree's head with a signed
// checkpoint, and the inactive shards.
func (l *RekorLog) Info() (*models.LogInfo, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	active, sh := l.shardAt(time.Now())
	info, err := l.treeInfo(sh)
	if err != nil {
		return nil, err
	}
	for i, sh := range l.shards {
		if i == active {
			continue
		}
		inactive, err := l.treeInfo(sh)
		if err != nil {
			return nil, err
		}
		info.InactiveShards = append(info.InactiveShards, &models.InactiveShardLogInfo{
			RootHash: inactive.RootHash, TreeSize: inactive.TreeSize, SignedTreeHead: inactive.SignedTreeHead, TreeID: inactive.TreeID})
	}
	return info, nil
}

func (l *RekorLog) treeInfo(sh *shard) (*models.LogInfo, error) {
	size := sh.tree.Size()
	rootHash := sh.tree.Hash()
	cp, err := l.checkpointOf(sh, size, rootHash)
	if err != nil {
		return nil, err
	}
	rh, ts, cps, tid := hex.EncodeToString(rootHash), int64(size), string(cp), fmt.Sprint(sh.treeID)
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
