using System.Buffers.Binary;

namespace Vmm.Abstractions;

/// <summary>
/// Guest-private data that can be recognised wherever it turns up: 8-byte words "SECRT", the owner (the index of
/// the VM that wrote it in the scenario's vms) and a 16-bit serial, at 8-byte offsets. A workload's guest writes
/// secrets into private memory; a comparison counts every secret word a host-side op (VMM, host kernel, device)
/// received, which is guest-private plaintext the host should not see, and every word of another VM a guest read.
/// </summary>
public static class GuestSecret
{
    /// <summary>The bytes of one secret word (8).</summary>
    public const int WordSize = 8;

    private const ulong Magic = 0x5345_4352_5400_0000; // "SECRT", the owner, then the serial, big-endian
    private const ulong MagicMask = 0xFFFF_FFFF_FF00_0000;

    /// <summary>Fills <paramref name="data"/> with <paramref name="owner"/>'s secret words whose serials start at <paramref name="serial"/> (a partial last word is zero).</summary>
    public static void Fill(Span<byte> data, int serial, byte owner = 0)
    {
        var words = data.Length / WordSize;
        for (var i = 0; i < words; i++)
            BinaryPrimitives.WriteUInt64BigEndian(data.Slice(i * WordSize, WordSize), Magic | ((ulong)owner << 16) | (ushort)(serial + i));
        data[(words * WordSize)..].Clear();
    }

    /// <summary><paramref name="length"/> bytes of <paramref name="owner"/>'s secret words starting at <paramref name="serial"/>.</summary>
    public static byte[] Of(int length, int serial, byte owner = 0)
    {
        var data = new byte[length];
        Fill(data, serial, owner);
        return data;
    }

    /// <summary>How many secret words of an owner other than <paramref name="owner"/> <paramref name="data"/> holds.</summary>
    public static int CountForeign(ReadOnlySpan<byte> data, byte owner)
    {
        var count = 0;
        for (var offset = 0; offset + WordSize <= data.Length; offset += WordSize)
        {
            var word = BinaryPrimitives.ReadUInt64BigEndian(data.Slice(offset, WordSize));
            if ((word & MagicMask) == Magic && (byte)(word >> 16) != owner) count++;
        }
        return count;
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
