// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Float32
/// @notice IEEE-754 binary32 arithmetic on chain (add, sub, mul, div, sqrt, relu and its gradient), bit for bit what
///         torch's float32 CPU kernels compute: round to
///         nearest, ties to even; subnormals kept (no flush to zero); signed zeros; infinities. A float is its 32
///         bits in a uint32. NaN payloads differ between instruction sets (x86 makes 0xffc00000, ARM 0x7fc00000),
///         so every NaN this library makes is 0x7fc00000 and `same` counts all NaNs as one value.
/// @dev Each result is computed exactly as an integer times a power of two, then rounded once (`_round`).
library Float32 {
    uint32 internal constant SIGN = 0x8000_0000;
    uint32 internal constant INF = 0x7f80_0000;
    uint32 internal constant NAN = 0x7fc0_0000;
    uint32 private constant ABS = 0x7fff_ffff;
    uint256 private constant HIDDEN = 1 << 23;

    function isNaN(uint32 x) internal pure returns (bool) {
        return x & ABS > INF;
    }

    /// @notice Whether two floats are the same value: equal bits, or both NaN. (+0 and -0 differ.)
    function same(uint32 a, uint32 b) internal pure returns (bool) {
        return a == b || (isNaN(a) && isNaN(b));
    }

    /// @notice a + b.
    function add(uint32 a, uint32 b) internal pure returns (uint32) {
        if (isNaN(a) || isNaN(b)) return NAN;
        uint32 absA = a & ABS;
        uint32 absB = b & ABS;
        if (absA == INF) return absB == INF && a != b ? NAN : a; // inf - inf is invalid
        if (absB == INF) return b;
        if (absA == 0) return absB == 0 ? a & b : b; // -0 + -0 = -0, +0 + -0 = +0
        if (absB == 0) return a;
        if (absA < absB) (a, b, absA, absB) = (b, a, absB, absA); // |a| >= |b|: a's exponent is the larger
        (uint256 ma, int256 ea) = _unpack(absA);
        (uint256 mb, int256 eb) = _unpack(absB);
        uint256 gap = uint256(ea - eb);
        // Beyond 60 bits apart, b lies far below half an ulp of any result: it only decides the rounding
        // direction, which a 1 in its place (a sticky bit) decides the same way.
        if (gap > 60) (ma, mb, eb) = (ma << 60, 1, ea - 60);
        else ma <<= gap;
        if ((a ^ b) & SIGN == 0) return _round(a & SIGN, ma + mb, eb);
        if (ma == mb) return 0; // x - x = +0 when rounding to nearest
        return _round(a & SIGN, ma - mb, eb); // |a| >= |b| and ma > mb: the sign is a's
    }

    /// @notice a - b.
    function sub(uint32 a, uint32 b) internal pure returns (uint32) {
        return add(a, b ^ SIGN);
    }

    /// @notice a * b.
    function mul(uint32 a, uint32 b) internal pure returns (uint32) {
        if (isNaN(a) || isNaN(b)) return NAN;
        uint32 sign = (a ^ b) & SIGN;
        uint32 absA = a & ABS;
        uint32 absB = b & ABS;
        if (absA == INF || absB == INF) return absA == 0 || absB == 0 ? NAN : sign | INF; // inf * 0 is invalid
        if (absA == 0 || absB == 0) return sign;
        (uint256 ma, int256 ea) = _unpack(absA);
        (uint256 mb, int256 eb) = _unpack(absB);
        return _round(sign, ma * mb, ea + eb);
    }

    /// @notice a / b.
    function div(uint32 a, uint32 b) internal pure returns (uint32) {
        if (isNaN(a) || isNaN(b)) return NAN;
        uint32 sign = (a ^ b) & SIGN;
        uint32 absA = a & ABS;
        uint32 absB = b & ABS;
        if (absA == INF) return absB == INF ? NAN : sign | INF; // inf / inf is invalid
        if (absB == INF) return sign; // finite / inf = signed zero
        if (absB == 0) return absA == 0 ? NAN : sign | INF; // 0 / 0 is invalid; x / 0 is signed infinity
        if (absA == 0) return sign;
        (uint256 ma, int256 ea) = _unpack(absA);
        (uint256 mb, int256 eb) = _unpack(absB);
        // A quotient of at least 64 bits, its remainder folded into a sticky bit far below the rounding position.
        uint256 scaled = ma << 90;
        uint256 q = scaled / mb;
        if (scaled % mb != 0) q |= 1;
        return _round(sign, q, ea - eb - 90);
    }

    /// @notice The square root of x (sqrt(-0) = -0; a negative number has none: NaN).
    function sqrt(uint32 x) internal pure returns (uint32) {
        if (isNaN(x)) return NAN;
        if (x & ABS == 0) return x;
        if (x & SIGN != 0) return NAN;
        if (x == INF) return INF;
        (uint256 m, int256 e) = _unpack(x);
        if (e & 1 != 0) (m, e) = (m << 1, e - 1); // an even exponent halves exactly
        m <<= 100; // a root of at least 50 bits; its remainder folded into a sticky bit
        uint256 r = _isqrt(m);
        if (r * r != m) r |= 1;
        return _round(0, r, (e - 100) / 2);
    }

    /// @notice The gradient through a ReLU as torch computes it (threshold_backward): 0 where the ReLU's output y is
    ///         <= 0 (either zero), else the incoming gradient g (a NaN y passes g through).
    function reluGrad(uint32 g, uint32 y) internal pure returns (uint32) {
        bool notPositive = !isNaN(y) && (y & ABS == 0 || y & SIGN != 0);
        return notPositive ? 0 : g;
    }

    /// @notice acc + a * b with two roundings (the product, then the sum): one step of the reproducible
    ///         profile's matrix-product accumulation. Not a fused multiply-add.
    function mulAdd(uint32 acc, uint32 a, uint32 b) internal pure returns (uint32) {
        return add(acc, mul(a, b));
    }

    /// @notice max(x, 0) as torch.relu: negative numbers become +0, -0 and NaN pass through.
    function relu(uint32 x) internal pure returns (uint32) {
        return x & SIGN != 0 && x & ABS != 0 && !isNaN(x) ? 0 : x;
    }

    /// @dev A finite nonzero magnitude as (m, e) with value m * 2^e; m has its hidden bit when normal.
    function _unpack(uint32 abs) private pure returns (uint256 m, int256 e) {
        uint256 biased = abs >> 23;
        m = abs & (HIDDEN - 1);
        if (biased == 0) return (m, -149); // subnormal: m * 2^-149
        return (m | HIDDEN, int256(biased) - 150);
    }

    /// @dev sign | the float nearest to mag * 2^exp (ties to even); overflow gives infinity, underflow a
    ///      subnormal or zero. mag > 0 with fewer than 256 - 150 bits, and exp >= -343 (the smallest a quotient has),
    ///      so every shift below stays under 256.
    function _round(uint32 sign, uint256 mag, int256 exp) private pure returns (uint32) {
        // Drop `shift` low bits: keep 24 significant bits, but none below 2^-149, the subnormals' quantum.
        int256 shift = int256(_bitLength(mag)) - 24;
        if (shift < -149 - exp) shift = -149 - exp;
        uint256 q;
        if (shift > 0) {
            uint256 s = uint256(shift);
            q = mag >> s;
            uint256 rest = mag & ((1 << s) - 1);
            uint256 half = 1 << (s - 1);
            if (rest > half || (rest == half && q & 1 == 1)) q += 1;
            if (q == HIDDEN << 1) (q, shift) = (HIDDEN, shift + 1); // rounded up into the next binade
        } else {
            q = mag << uint256(-shift);
        }
        if (q < HIDDEN) return sign | uint32(q); // subnormal (or zero): q * 2^-149
        int256 biased = shift + exp + 23 + 127; // q in [2^23, 2^24): q * 2^(shift+exp) = 1.f * 2^(shift+exp+23)
        if (biased >= 255) return sign | INF;
        return sign | uint32(uint256(biased) << 23) | uint32(q - HIDDEN);
    }

    /// @dev floor(sqrt(x)) by Newton's method from a power of two above the root.
    function _isqrt(uint256 x) private pure returns (uint256 r) {
        r = 1 << ((_bitLength(x) + 1) / 2);
        while (true) {
            uint256 next = (r + x / r) >> 1;
            if (next >= r) return r;
            r = next;
        }
    }

    function _bitLength(uint256 x) private pure returns (uint256 n) {
        if (x >= 1 << 128) (x, n) = (x >> 128, n + 128);
        if (x >= 1 << 64) (x, n) = (x >> 64, n + 64);
        if (x >= 1 << 32) (x, n) = (x >> 32, n + 32);
        if (x >= 1 << 16) (x, n) = (x >> 16, n + 16);
        if (x >= 1 << 8) (x, n) = (x >> 8, n + 8);
        if (x >= 1 << 4) (x, n) = (x >> 4, n + 4);
        if (x >= 1 << 2) (x, n) = (x >> 2, n + 2);
        if (x >= 1 << 1) (x, n) = (x >> 1, n + 1);
        return n + x;
    }
}
