using System.Buffers.Binary;

namespace Vmm.Core.Scenarios;

/// <summary>
/// The bytes of a data value <c>{"pattern": seed, "len": n}</c>: xorshift64* (Vigna 2016) with state
/// <c>seed XOR 0x9E3779B97F4A7C15</c> (that constant alone when the XOR is 0), each output word written
/// little-endian, the last word cut to length. Same seed, same bytes, on every machine.
/// </summary>
public static class PatternBytes
{
    private const ulong SeedMix = 0x9E3779B97F4A7C15;
    private const ulong Multiplier = 0x2545F4914F6CDD1D;

    public static byte[] Generate(long seed, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var bytes = new byte[length];
        var state = (ulong)seed ^ SeedMix;
        if (state == 0) state = SeedMix;
        Span<byte> word = stackalloc byte[8];
        for (var offset = 0; offset < length; offset += 8)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            BinaryPrimitives.WriteUInt64LittleEndian(word, state * Multiplier);
            word[..Math.Min(8, length - offset)].CopyTo(bytes.AsSpan(offset));
        }
        return bytes;
    }
}
