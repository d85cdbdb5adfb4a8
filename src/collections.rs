//! Hash maps and sets for the whole crate: `std`'s, with a hasher chosen per build.
//!
//! Invariant: no iteration over these reaches output (output order comes from sorted walks and
//! ordered maps); they only index. In the shipped binary they hash with `RandomState`: keys
//! come from pull requests, and random keys keep a crafted input from making every lookup
//! collide. Under cargo-fuzz (`cfg(fuzzing)`) the keys are fixed instead: libFuzzer keeps an
//! input when it reaches new coverage, hit counts inside the hash table included, so random
//! keys would make a fuzzing run with a fixed seed (`scripts/fuzz ci`) explore differently on
//! every run, and CI would not give the same answer for the same commit.

#[cfg(not(fuzzing))]
pub type Hasher = std::collections::hash_map::RandomState;
#[cfg(fuzzing)]
pub type Hasher = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

pub type HashMap<K, V> = std::collections::HashMap<K, V, Hasher>;
pub type HashSet<T> = std::collections::HashSet<T, Hasher>;
