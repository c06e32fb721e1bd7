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
    }

    private static ReadOnlyMemory<byte> SkipBom(ReadOnlyMemory<byte> utf8) =>
        utf8.Span.StartsWith("\uFEFF"u8) ? utf8[3..] : utf8;

    private static JsonSourceMap Build(ReadOnlySpan<byte> utf8, string file)
    {
        var map = new JsonSourceMap(file);
        var lineStarts = LineStarts(utf8);
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
                case JsonTokenType.PropertyName:
                {
                    var name = reader.GetString()!;
                    var owner = stack.Peek();
                    if (!owner.Names!.Add(name))
                        throw new ScenarioException($"duplicate property \"{name}\"; keep only one of them", location);
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

    private static string NextPath(Stack<Container> stack)
    {
        if (stack.Count == 0) return "$";
        var owner = stack.Peek();
        return owner.Names is null ? Item(owner.Path, owner.NextIndex++) : Child(owner.Path, owner.PendingName!);
    }

    private static List<int> LineStarts(ReadOnlySpan<byte> utf8)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < utf8.Length; i++)
            if (utf8[i] == (byte)'\n') starts.Add(i + 1);
        return starts;
    }

    private static SourceLocation Locate(ReadOnlySpan<byte> utf8, List<int> lineStarts, long offset, string file)
    {
        var index = lineStarts.BinarySearch((int)offset);
        var line = index >= 0 ? index : ~index - 1;
        long column = 1;
        for (var i = lineStarts[line]; i < offset; i++)
            if ((utf8[i] & 0xC0) != 0x80) column++;
        return new SourceLocation(file, line + 1, column);
    }

    /// <summary>System.Text.Json appends its own path and position; the location already says where.</summary>
    private static string CleanMessage(string message) => PositionSuffix().Replace(message, "").TrimEnd();

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
