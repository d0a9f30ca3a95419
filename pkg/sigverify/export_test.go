package sigverify

// BundleJSON parses a bundle and verifies it as Bundle does (for tests and
// fuzzing of the bundle form).
func (v *Verifier) BundleJSON(data []byte, p Policy) *Result { return v.bundleJSON(data, p) }
