using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>
/// What the generator draws names from: the loaded host's components and options, the parser's ops, and the
/// repository's scenario files (with the position of every token, for token-level mutations).
/// </summary>
internal sealed class FuzzVocabulary
{
    public FuzzVocabulary(VmmHost host, IEnumerable<string> scenarioFiles)
    {
        Components = ComponentKind.WellKnown.ToDictionary(
            k => k.Key(),
            k => host.Components.Where(c => c.Kind == k).Select(c => c.Name).Distinct(StringComparer.Ordinal).ToArray());
        Options = VmmHost.CoreOptions
            .Concat(host.Components.SelectMany(c => c.Options))
            .DistinctBy(o => o.Key, StringComparer.Ordinal)
            .ToArray();
        Sections = Options.Select(o => o.Section).Distinct(StringComparer.Ordinal).ToArray();
        Ops = ScenarioParser.Ops.ToArray();
        Seeds = scenarioFiles.Select(f => SeedFile.Read(f)).ToArray();
    }

    /// <summary>Registered component names by kind key ("memory" → plain, tdx-ci, ...).</summary>
    public IReadOnlyDictionary<string, string[]> Components { get; }

    public IReadOnlyList<ComponentOption> Options { get; }

    public IReadOnlyList<string> Sections { get; }

    public IReadOnlyList<string> Ops { get; }

    public IReadOnlyList<SeedFile> Seeds { get; }
}

/// <summary>A real scenario file and where its tokens stand, so a mutation can replace one value or name in place.</summary>
internal sealed record SeedFile(string Path, byte[] Bytes, IReadOnlyList<SeedToken> Tokens)
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static SeedFile Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var vms = new List<(string, ulong)>();
        using (var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }))
        {
            if (document.RootElement.TryGetProperty("vms", out var list))
                foreach (var vm in list.EnumerateArray())
                {
                    var memory = vm.GetProperty("memory");
                    var size = memory.ValueKind == JsonValueKind.Number ? memory.GetUInt64() : ScenarioParser.TryParseSize(memory.GetString()!, out var parsed) ? parsed : 0;
                    vms.Add((vm.GetProperty("name").GetString()!, size));
                }
        }
        return new SeedFile(path, bytes, Tokenize(bytes)) { Vms = vms };
    }

    /// <summary>Every property name and value, with its byte range and the name of the property that holds it.</summary>
    public static List<SeedToken> Tokenize(byte[] bytes)
    {
        var tokens = new List<SeedToken>();
        var open = new Stack<(int Start, string Owner, bool IsArray, int Index)>();
        var reader = new Utf8JsonReader(bytes, ReaderOptions);
        string? pendingName = null;
        while (reader.Read())
        {
            var start = (int)reader.TokenStartIndex;
            var owner = pendingName ?? (open.Count > 0 && open.Peek().IsArray ? open.Peek().Owner : "");
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    pendingName = SafeString(ref reader);
                    tokens.Add(new SeedToken(start, start + reader.ValueSpan.Length + 2, reader.TokenType, pendingName, IsName: true, open.Count));
                    continue;
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    open.Push((start, owner, reader.TokenType == JsonTokenType.StartArray, tokens.Count));
                    tokens.Add(default!);
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                {
                    var (begin, name, isArray, index) = open.Pop();
                    tokens[index] = new SeedToken(begin, start + 1, isArray ? JsonTokenType.StartArray : JsonTokenType.StartObject, name, IsName: false, open.Count);
                    break;
                }
                case JsonTokenType.String:
                    tokens.Add(new SeedToken(start, start + reader.ValueSpan.Length + 2, reader.TokenType, owner, IsName: false, open.Count));
                    break;
                default:
                    tokens.Add(new SeedToken(start, start + reader.ValueSpan.Length, reader.TokenType, owner, IsName: false, open.Count));
                    break;
            }
            pendingName = null;
        }
        return tokens;
    }

    /// <summary>The token as text; a name with a lone surrogate escape (which System.Text.Json will not decode) as its raw bytes.</summary>
    private static string SafeString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return System.Text.Encoding.Latin1.GetString(reader.ValueSpan);
        }
    }

    /// <summary>The VMs a seed file declares (name and memory), so inserted steps can name them.</summary>
    public IReadOnlyList<(string Name, ulong Memory)> Vms { get; init; } = [];
}

/// <summary>One token of a seed file: bytes [Start, End), its JSON type, and the property it belongs to.</summary>
internal sealed record SeedToken(int Start, int End, JsonTokenType Type, string Owner, bool IsName, int Depth);
