using System.Globalization;
using System.Text;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>One generated scenario file: the raw bytes (possibly invalid UTF-8), the generator class that made it, and the CsCheck seed that makes it again.</summary>
public sealed record FuzzInput(string Class, byte[] Bytes, string Seed)
{
    /// <summary>The document as text, invalid UTF-8 bytes shown as \xNN, cut at <paramref name="max"/> characters.</summary>
    public string Printable(int max = 4000) => Printable(Bytes, max);

    public override string ToString() => $"[{Class}] seed {Seed}, {Bytes.Length} bytes:{Environment.NewLine}{Printable()}";

    public static string Printable(ReadOnlySpan<byte> bytes, int max = 4000)
    {
        var text = new StringBuilder();
        var decoder = new UTF8Encoding(false, true);
        var i = 0;
        while (i < bytes.Length && text.Length < max)
        {
            var length = SequenceLength(bytes[i]);
            if (length > 0 && i + length <= bytes.Length && TryDecode(decoder, bytes.Slice(i, length), out var decoded))
            {
                text.Append(decoded);
                i += length;
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"\\x{bytes[i]:x2}");
                i++;
            }
        }
        if (i < bytes.Length) text.Append(CultureInfo.InvariantCulture, $" ... ({bytes.Length - i} more bytes)");
        return text.ToString();
    }

    private static int SequenceLength(byte lead) => lead switch
    {
        < 0x80 => 1,
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 0,
    };

    private static bool TryDecode(UTF8Encoding decoder, ReadOnlySpan<byte> sequence, out string decoded)
    {
        try
        {
            decoded = decoder.GetString(sequence);
            return true;
        }
        catch (DecoderFallbackException)
        {
            decoded = "";
            return false;
        }
    }
}
