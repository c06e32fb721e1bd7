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

    /// <summary>The MACs of tdx-ci, as the <c>tdx.mac</c> option names them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["aes", "sha3"];

    /// <summary>Why <paramref name="name"/> is not a MAC of <see cref="Names"/>, or null when it is.</summary>
    public static string? NameProblem(string? name) =>
        name is not null && Names.Contains(name) ? null : $"unknown MAC {Echo(name)}; use \"aes\" or \"sha3\"";

    /// <summary>Why the MAC key option is not 32 hex digits (with or without 0x), or null when it is.</summary>
    public static string? KeyProblem(string? text)
    {
        if (text is not null && Hex(text) is { Length: 32 } hex && hex.All(Uri.IsHexDigit)) return null;
        return $"the MAC key must be 16 bytes as 32 hex digits (e.g. \"0x00112233445566778899aabbccddeeff\"), not {Echo(text)}";
    }

    /// <summary>Parses the MAC key option: 32 hex digits, with or without 0x.</summary>
    public static byte[] ParseKey(string? text, string option) =>
        KeyProblem(text) is { } problem ? throw new ComponentOptionsException(problem, option) : Convert.FromHexString(Hex(text!));

    private static string Hex(string text) => text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;

    /// <summary>A value from the scenario in a message: quoted, at most 40 characters, never a line break.</summary>
    private static string Echo(string? text)
    {
        if (text is null) return "null";
        var shown = text.Length <= 40 ? text : text[..37] + "...";
        return "\"" + string.Concat(shown.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())) + "\"";
    }
}
