using System.Buffers.Binary;

namespace Vmm.Abstractions;

/// <summary>
/// Guest-private data that can be recognised wherever it turns up: 8-byte words "SECRET" + a 16-bit serial, at
/// 8-byte offsets. A workload's guest writes secrets into private memory; a comparison counts every secret word a
/// host-side op (VMM, host kernel, device) received, which is guest-private plaintext the host should not see.
/// </summary>
public static class GuestSecret
{
    /// <summary>The bytes of one secret word (8).</summary>
    public const int WordSize = 8;

    private const ulong Magic = 0x5345_4352_4554_0000; // "SECRET" then the serial, big-endian
    private const ulong MagicMask = 0xFFFF_FFFF_FFFF_0000;

    /// <summary>Fills <paramref name="data"/> with secret words whose serials start at <paramref name="serial"/> (a partial last word is zero).</summary>
    public static void Fill(Span<byte> data, int serial)
    {
        var words = data.Length / WordSize;
        for (var i = 0; i < words; i++)
            BinaryPrimitives.WriteUInt64BigEndian(data.Slice(i * WordSize, WordSize), Magic | (ushort)(serial + i));
        data[(words * WordSize)..].Clear();
    }

    /// <summary><paramref name="length"/> bytes of secret words starting at <paramref name="serial"/>.</summary>
    public static byte[] Of(int length, int serial)
    {
        var data = new byte[length];
        Fill(data, serial);
        return data;
    }

    /// <summary>How many secret words <paramref name="data"/> holds at 8-byte offsets.</summary>
    public static int Count(ReadOnlySpan<byte> data)
    {
        var count = 0;
        for (var offset = 0; offset + WordSize <= data.Length; offset += WordSize)
            if ((BinaryPrimitives.ReadUInt64BigEndian(data.Slice(offset, WordSize)) & MagicMask) == Magic) count++;
        return count;
    }
}
