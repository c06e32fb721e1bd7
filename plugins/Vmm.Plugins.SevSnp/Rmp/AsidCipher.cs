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
        var word = 0UL;
        for (var i = 0; i < bytes.Length; i++, address++)
        {
            // One hash per 8-byte word of the address space.
            if (i == 0 || (address & 7) == 0) word = Word(asid, address);
            bytes[i] ^= KeyByte(word, address);
        }
    }

    private static ulong Word(ushort asid, ulong address) => Mix(((ulong)asid << 52) ^ (address >> 3));

    private static byte KeyByte(ulong word, ulong address)
    {
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
