//go:build cgo && !nopkcs11

package keystorepkcs11

// DropEd25519ForTest makes the instance behave as on a token without
// Ed25519 (CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA).
func (i *Instance) DropEd25519ForTest() {
	delete(i.mechs, ckmECEdwardsKeyPairGen)
	delete(i.mechs, ckmEdDSA)
}

// PoolGenerationForTest counts the pool's resets (recoveries).
func (i *Instance) PoolGenerationForTest() uint64 { return i.pool.gen.Load() }
