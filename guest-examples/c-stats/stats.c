// pg_wasm example guest in C: small numeric helpers, no libc.
// Built by scripts/build-guests.sh with clang --target=wasm32.

#define EXPORT(name) __attribute__((export_name(name)))

// Logistic function, e.g. to turn a linear score into a probability.
static double exp_approx(double x) {
    // exp(x) = 2^k * exp(r), |r| <= ln2/2, series for exp(r).
    const double ln2 = 0.6931471805599453;
    int k = (int)(x / ln2 + (x >= 0 ? 0.5 : -0.5));
    double r = x - k * ln2, term = 1.0, sum = 1.0;
    for (int n = 1; n < 20; n++) { term *= r / n; sum += term; }
    double p = 1.0;
    if (k > 0) while (k--) p *= 2.0; else while (k++) p *= 0.5;
    return sum * p;
}

EXPORT("sigmoid") double sigmoid(double x) {
    if (x > 40) return 1.0;
    if (x < -40) return 0.0;
    return 1.0 / (1.0 + exp_approx(-x));
}

// Linear interpolation between a and b.
EXPORT("lerp") double lerp(double a, double b, double t) { return a + (b - a) * t; }

// Population count of a bigint: how many flags are set in a bitmask column.
EXPORT("popcount") int popcount(long long x) { return __builtin_popcountll((unsigned long long)x); }
