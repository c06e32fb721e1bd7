using Vmm.Abstractions;

namespace Vmm.Plugins.Tdx.Ci;

/// <summary>
/// The MAC after the hardware's construction: SHA-3 based, keyed with the platform MAC key, over the
/// line and the tweak, truncated to 28 bits. KMAC128 (NIST SP 800-185, cSHAKE128 on Keccak-f[1600]) with
/// customization "TDX Ci line MAC" and a 32-bit output, computed in managed code: the key's two blocks are
/// absorbed once here, so a line costs one permutation on a stack state and allocates nothing.
/// </summary>
public sealed class Sha3LineMac : ILineMac
{
    internal static ReadOnlySpan<byte> Customization => "TDX Ci line MAC"u8;
    private const int TagBits = 32;
    private readonly ulong[] _keyed = new ulong[Keccak.Lanes];

    public Sha3LineMac(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var sponge = new Keccak.Sponge(_keyed);
        Keccak.AbsorbPrefix(ref sponge, key, Customization);
    }

    public string Name => "sha3 (KMAC128)";

    public uint Compute(ReadOnlySpan<byte> line, ulong physicalAddress, KeyId key, bool owner)
    {
        // X = line || tweak (80 bytes), then right_encode(32) = 20 01 and cSHAKE's padding, all in one block.
        Span<ulong> state = stackalloc ulong[Keccak.Lanes];
        _keyed.CopyTo(state);
        Keccak.Xor(state, line[..PageGeometry.LineSize]);
        Span<byte> tweak = stackalloc byte[16];
        LineMacs.WriteTweak(tweak, physicalAddress, key, owner);
        Keccak.Xor(state[(PageGeometry.LineSize / 8)..], tweak);
        const int end = PageGeometry.LineSize + 16;
        Keccak.XorByte(state, end, TagBits);
        Keccak.XorByte(state, end + 1, 1);
        Keccak.XorByte(state, end + 2, 0x04);
        Keccak.XorByte(state, Keccak.Rate128 - 1, 0x80);
        Keccak.Permute(state);
        return (uint)state[0] & LineMacs.Mask28;
    }
}
