using Vmm.Abstractions;

namespace Vmm.Plugins.SevSnp.Rmp;

/// <summary>
/// The memory encryption of an SEV guest's private pages, modelled as an XOR keystream per ASID and physical address
/// (the real engine is AES with an address tweak): deterministic per ASID, address and data (H13), its own inverse,
/// and never the identity on any byte, so a host read of a guest-written byte never returns the plaintext.
/// </summary>
internal static class AsidCipher
{
    /// <summary>Encrypts or decrypts <paramref name="bytes"/> that sit at <paramref name="offset"/> of the frame, in place.</summary>
    public static void Apply(ushort asid, Pfn pfn, int offset, Span<byte> bytes)
    {
        var address = (pfn.Value << PageGeometry.PageShift) + (ulong)offset;
        for (var i = 0; i < bytes.Length; i++) bytes[i] ^= KeyByte(asid, address + (ulong)i);
    }

    public static byte KeyByte(ushort asid, ulong address)
    {
        var word = Mix(((ulong)asid << 52) ^ (address >> 3));
        var b = (byte)(word >> (int)((address & 7) * 8));
        return b == 0 ? (byte)0x5a : b;
    }

    // SplitMix64's finaliser: a cheap, well-spread hash.
    private static ulong Mix(ulong z)
    {
        z += 0x9e3779b97f4a7c15UL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
