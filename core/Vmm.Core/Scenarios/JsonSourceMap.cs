using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Vmm.Core.Scenarios;

/// <summary>
/// Where every property name and value of a JSON document stands (1-based line and column), by JSON path
/// such as <c>$.steps[2].expect.sigbus.code</c>; built with one <see cref="Utf8JsonReader"/> pass because
/// <see cref="JsonDocument"/> keeps no positions.
/// </summary>
public sealed partial class JsonSourceMap
{
    /// <summary>How scenario and plugins files are read: comments and trailing commas allowed.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    private readonly Dictionary<string, SourceLocation> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourceLocation> _values = new(StringComparer.Ordinal);

    private JsonSourceMap(string file) => File = file;

    public string File { get; }

    /// <summary>Where the value at <paramref name="path"/> starts; the file alone when unknown.</summary>
    public SourceLocation ValueOf(string path) => _values.TryGetValue(path, out var location) ? location : new SourceLocation(File, 0, 0);

    /// <summary>Where the property name of <paramref name="path"/> stands (the value for array items and the root).</summary>
    public SourceLocation NameOf(string path) => _names.TryGetValue(path, out var location) ? location : ValueOf(path);

    public static string Child(string parent, string name) =>
        PlainName().IsMatch(name) ? $"{parent}.{name}" : $"{parent}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";

    public static string Item(string parent, int index) => $"{parent}[{index}]";

    /// <summary>
    /// Parses <paramref name="utf8"/> into a document and its map. Malformed JSON and duplicate property names
    /// become a <see cref="ScenarioException"/> at the offending line and column.
    /// </summary>
    public static (JsonDocument Document, JsonSourceMap Map) Parse(ReadOnlyMemory<byte> utf8, string file)
    {
        var bytes = SkipBom(utf8);
        try
        {
            var map = Build(bytes.Span, file);
            return (JsonDocument.Parse(bytes, DocumentOptions), map);
        }
        catch (JsonException e)
        {
            throw new ScenarioException($"invalid JSON: {CleanMessage(e.Message)}", new SourceLocation(file, (e.LineNumber ?? 0) + 1, (e.BytePositionInLine ?? 0) + 1));
        }
        catch (Exception e) when (e is InvalidOperationException or DecoderFallbackException)
        {
            // Build reads every string, so this is only a last resort: System.Text.Json found text it cannot decode.
            throw new ScenarioException($"{InvalidText}: {e.Message}", new SourceLocation(file, 0, 0));
        }
    }

    private const string InvalidText = "the file is not valid UTF-8 JSON text; save it as UTF-8";

    private static ReadOnlyMemory<byte> SkipBom(ReadOnlyMemory<byte> utf8) =>
        utf8.Span.StartsWith("\uFEFF"u8) ? utf8[3..] : utf8;

    private static JsonSourceMap Build(ReadOnlySpan<byte> utf8, string file)
    {
        var map = new JsonSourceMap(file);
        var lineStarts = new TextPositions(utf8);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            MaxDepth = DocumentOptions.MaxDepth,
        });
        var stack = new Stack<Container>();
        while (reader.Read())
        {
            var location = Locate(utf8, lineStarts, reader.TokenStartIndex, file);
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    ReadString(ref reader, utf8, lineStarts, file);
                    map._values[NextPath(stack)] = location;
                    break;
                case JsonTokenType.PropertyName:
                {
                    var name = ReadString(ref reader, utf8, lineStarts, file);
                    var owner = stack.Peek();
                    if (!owner.Names!.Add(name))
                        throw new ScenarioException($"duplicate property {NameHints.Quote(name)}; keep only one of them", location);
                    owner.PendingName = name;
                    map._names[Child(owner.Path, name)] = location;
                    break;
                }
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                {
                    var path = NextPath(stack);
                    map._values[path] = location;
                    stack.Push(new Container(path, reader.TokenType == JsonTokenType.StartArray));
                    break;
                }
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    stack.Pop();
                    break;
                default:
                    map._values[NextPath(stack)] = location;
                    break;
            }
        }
        return map;
    }

    /// <summary>
    /// A string or property name as text. Invalid UTF-8 bytes and an escaped lone surrogate ("\ud800") cannot be
    /// text: System.Text.Json throws InvalidOperationException for them, which becomes bad input here, at the
    /// first bad byte or escape.
    /// </summary>
    private static string ReadString(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, TextPositions lineStarts, string file)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (Exception e) when (e is InvalidOperationException or DecoderFallbackException)
        {
            var what = reader.TokenType == JsonTokenType.PropertyName ? "property name" : "string";
            // The token starts at its opening quote; ValueSpan is the raw text between the quotes.
            var raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan.ToArray();
            var start = reader.TokenStartIndex + 1;
            var bad = FirstInvalidUtf8(raw);
            if (bad >= 0)
                throw new ScenarioException($"this {what} holds bytes that are not UTF-8; save the file as UTF-8", Locate(utf8, lineStarts, start + bad, file));
            var escape = FirstLoneSurrogateEscape(raw);
            throw new ScenarioException(
                $"this {what} holds {(escape >= 0 ? $"\"{Encoding.ASCII.GetString(raw, escape, 6)}\", half of a UTF-16 surrogate pair" : "an invalid surrogate escape")}; write the whole character (or both halves, like \"\\ud83d\\ude00\")",
                Locate(utf8, lineStarts, start + Math.Max(escape, 0), file));
        }
    }

    /// <summary>Index of the first byte that does not start a valid UTF-8 sequence; -1 when all are valid.</summary>
    private static int FirstInvalidUtf8(ReadOnlySpan<byte> raw)
    {
        for (var i = 0; i < raw.Length;)
        {
            if (Rune.DecodeFromUtf8(raw[i..], out _, out var consumed) != OperationStatus.Done) return i;
            i += consumed;
        }
        return -1;
    }

    /// <summary>Index of the first \uXXXX escape of a surrogate that has no partner; -1 when there is none.</summary>
    private static int FirstLoneSurrogateEscape(byte[] raw)
    {
        for (var i = 0; i + 6 <= raw.Length; i++)
        {
            if (raw[i] != (byte)'\\') continue;
            if (raw[i + 1] != (byte)'u' || !TryHex(raw, i + 2, out var unit))
            {
                i++; // an escape of another character, such as \\ itself
                continue;
            }
            if (char.IsLowSurrogate(unit)) return i;
            if (char.IsHighSurrogate(unit))
            {
                if (i + 12 <= raw.Length && raw[i + 6] == (byte)'\\' && raw[i + 7] == (byte)'u' && TryHex(raw, i + 8, out var low) && char.IsLowSurrogate(low))
                {
                    i += 11;
                    continue;
                }
                return i;
            }
            i += 5;
        }
        return -1;
    }

    private static bool TryHex(byte[] raw, int at, out char unit)
    {
        var ok = ushort.TryParse(Encoding.ASCII.GetString(raw, at, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value);
        unit = (char)value;
        return ok;
    }

    private static string NextPath(Stack<Container> stack)
    {
        if (stack.Count == 0) return "$";
        var owner = stack.Peek();
        return owner.Names is null ? Item(owner.Path, owner.NextIndex++) : Child(owner.Path, owner.PendingName!);
    }

    private static SourceLocation Locate(ReadOnlySpan<byte> utf8, TextPositions positions, long offset, string file)
    {
        var (line, column) = positions.At(utf8, offset);
        return new SourceLocation(file, line, column);
    }

    /// <summary>
    /// Line and column (1-based, in characters) of byte offsets. Tokens are located in increasing order, so the
    /// column is counted on from the last offset of the same line: linear in the file, even when it is one line.
    /// </summary>
    private sealed class TextPositions
    {
        private readonly List<int> _lineStarts = [0];
        private int _line;
        private long _offset;
        private long _column = 1;

        public TextPositions(ReadOnlySpan<byte> utf8)
        {
            for (var i = 0; i < utf8.Length; i++)
                if (utf8[i] == (byte)'\n') _lineStarts.Add(i + 1);
        }

        public (int Line, long Column) At(ReadOnlySpan<byte> utf8, long offset)
        {
            var index = _lineStarts.BinarySearch((int)offset);
            var line = index >= 0 ? index : ~index - 1;
            if (line != _line || offset < _offset)
            {
                _line = line;
                _offset = _lineStarts[line];
                _column = 1;
            }
            for (var i = _offset; i < offset; i++)
                if ((utf8[(int)i] & 0xC0) != 0x80) _column++;
            _offset = offset;
            return (line + 1, _column);
        }
    }

    /// <summary>System.Text.Json appends its own path and position; the location already says where.</summary>
    /// <summary>Its "invalid literal" messages quote the rest of the file: keep one line of it.</summary>
    private static string CleanMessage(string message) => NameHints.OneLine(PositionSuffix().Replace(message, "").TrimEnd(), 120);

    [GeneratedRegex(@"^[A-Za-z_$][A-Za-z0-9_$-]*$")]
    private static partial Regex PlainName();

    [GeneratedRegex(@"\s*(Path: \S*\s*\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?")]
    private static partial Regex PositionSuffix();

    private sealed class Container(string path, bool isArray)
    {
        public string Path { get; } = path;
        /// <summary>Names seen so far in an object; null for an array.</summary>
        public HashSet<string>? Names { get; } = isArray ? null : new HashSet<string>(StringComparer.Ordinal);
        public string? PendingName { get; set; }
        public int NextIndex { get; set; }
    }
}
