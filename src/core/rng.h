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

#endif
