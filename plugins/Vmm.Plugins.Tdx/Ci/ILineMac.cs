using Vmm.Abstractions;

namespace Vmm.Plugins.Tdx.Ci;

/// <summary>
/// The Ci integrity check value of one 64-byte line: keyed with the platform MAC key, over the line's
/// stored bytes, with a tweak made of the KeyID-carrying physical address and the TD-owner bit,
/// truncated to 28 bits (TDX Module spec §16.2.1, Table 16.1).
/// </summary>
public interface ILineMac
{
    string Name { get; }

    uint Compute(ReadOnlySpan<byte> line, ulong physicalAddress, KeyId key, bool owner);
}

public static class LineMacs
{
    public const uint Mask28 = (1u << 28) - 1;

    /// <summary>The 16-byte tweak block: physical address (LE), KeyID (LE), owner bit, then a fixed label.</summary>
    public static void WriteTweak(Span<byte> block, ulong physicalAddress, KeyId key, bool owner)
    {
        BitConverter.TryWriteBytes(block, physicalAddress);
        BitConverter.TryWriteBytes(block[8..], key.Value);
        block[10] = owner ? (byte)1 : (byte)0;
        "TDXCI"u8.CopyTo(block[11..]);
    }

    /// <summary>Parses the MAC key option: 32 hex digits, with or without 0x.</summary>
    public static byte[] ParseKey(string text, string option)
    {
        var hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        if (hex.Length != 32 || !hex.All(Uri.IsHexDigit))
            throw new ComponentOptionsException($"the MAC key must be 16 bytes as 32 hex digits (e.g. \"0x00112233445566778899aabbccddeeff\"), not \"{text}\"", option);
        return Convert.FromHexString(hex);
    }
}
