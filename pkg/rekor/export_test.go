package rekor

// Parsers and limits, for the fuzz targets of package rekor_test.
var (
	ParseSearch    = parseSearch
	ParseEntry     = parseEntry
	ParseEntryList = parseEntryList
	ValidUUID      = uuidRE.MatchString
)

const (
	MaxSearchResults = maxSearchResults
	MaxEntryList     = maxRetrieveBatch * maxShardsPerEntry
)
