/* A small, fast, seedable random generator (xoshiro256** seeded by splitmix64). Its whole
 * state is four words, so it can be saved in checkpoints and copied to replay dropout. */
#ifndef SEMB_CORE_RNG_H
#define SEMB_CORE_RNG_H

#include <stdint.h>

typedef struct rng_state {
    uint64_t s[4];
} rng_state;

/* Same seed, same sequence, on every platform. */
void rng_seed(rng_state *rng, uint64_t seed);
uint64_t rng_next_u64(rng_state *rng);
/* Uniform in [0, 1) with 24 random bits. */
float rng_uniform(rng_state *rng);
/* Standard normal (Box-Muller, computed in double). */
float rng_normal(rng_state *rng);

/* Counter-based hashing: a random value that depends only on (key, counter), so a mask or
 * sample can be regenerated anywhere (a backward pass, a GradCache re-forward, another
 * thread) without storing it. Two rounds of the splitmix64 finaliser. */
static inline uint64_t rng_hash_u64(uint64_t key, uint64_t counter)
{
    uint64_t z = key + 0x9e3779b97f4a7c15ULL * (counter + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 random bits, from (key, counter). */
static inline float rng_hash_uniform(uint64_t key, uint64_t counter)
{
    return (float)(rng_hash_u64(key, counter) >> 40) * (1.0f / 16777216.0f);
}

#endif
