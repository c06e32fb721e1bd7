using System.Text.Json;
using Json.Schema;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Docs.Tests;

/// <summary>docs/scenario.schema.json accepts every scenario the repository ships and rejects the shapes the engine rejects.</summary>
public sealed class SchemaTests
{
    public static TheoryData<string> ScenarioFiles() => DocsFiles.Relative(DocsFiles.Scenarios());

    public static TheoryData<string> ExampleFiles() => DocsFiles.Relative(DocsFiles.Examples());

    [Theory]
    [MemberData(nameof(ScenarioFiles))]
    public void ScenarioFile_ValidatesAgainstTheSchema(string relativePath) =>
        ScenarioSchema.AssertValid(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, relativePath)), relativePath);

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void DocsExampleFile_ValidatesAgainstTheSchema(string relativePath) =>
        ScenarioSchema.AssertValid(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, relativePath)), relativePath);

    [Fact]
    public void ScenariosFolder_IsWhereTheSchemaTestLooks() => Assert.True(DocsFiles.Scenarios().Count >= 100, "scenarios/ should hold the repository's scenario files");

    [Fact]
    public void Schema_IsAValidDraft202012Schema()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(ScenarioSchema.Path));
        var results = MetaSchemas.Draft202012.Evaluate(schema.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });

        Assert.True(results.IsValid, ScenarioSchema.Describe(results));
    }

    [Fact]
    public void Schema_ListsExactlyTheOpsTheParserAccepts()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(ScenarioSchema.Path));
        var ops = schema.RootElement.GetProperty("$defs").GetProperty("step").GetProperty("properties").GetProperty("op").GetProperty("enum")
            .EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal);

        Assert.Equal(ScenarioParser.Ops.Order(StringComparer.Ordinal), ops);
    }

    [Fact]
    public void Schema_KeepsEveryDefinitionOfTheContractSchema()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(ScenarioSchema.Path));
        var root = schema.RootElement;

        Assert.Equal(["address", "data", "outcome", "size", "step"], root.GetProperty("$defs").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["name", "steps"], root.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        foreach (var outcome in new[] { "ok", "guest-mce", "guest-killed", "host-panic", "shutdown", "not-run", "guest-vc" })
            ScenarioSchema.AssertValid($$"""{"name": "n", "steps": [{"op": "host.exit", "expect": "{{outcome}}"}]}""", outcome);
        ScenarioSchema.AssertValid("""{"name": "n", "steps": [{"op": "host.read", "hva": "0x7f0000000000", "len": 1, "expect": {"sigbus": {"code": "SI_KERNEL"}}}]}""", "SI_KERNEL");
        ScenarioSchema.AssertValid("""{"name": "n", "vms": [{"name": "g", "memory": "8M", "backing": "guest-memfd", "gmemFlags": ["MMAP", "INIT_SHARED"]}], "steps": []}""", "gmemFlags");
    }

    [Theory]
    [InlineData("""{"name": "n", "steps": [{"op": "host.reed", "hva": 0, "len": 1}]}""", "an unknown op")]
    [InlineData("""{"name": "n", "steps": [{"op": "host.read", "hva": 0, "lenght": 1}]}""", "an unknown step property")]
    [InlineData("""{"name": "n", "steps": [], "stpes": []}""", "an unknown top-level property")]
    [InlineData("""{"steps": []}""", "no name")]
    [InlineData("""{"name": "n", "vms": [{"name": "v", "memory": "8 MB"}], "steps": []}""", "a size with a unit the format does not have")]
    [InlineData("""{"name": "n", "vms": [{"name": "v", "memory": "8M", "backing": "ANON"}], "steps": []}""", "a backing in the wrong case")]
    [InlineData("""{"name": "n", "steps": [{"op": "host.write", "hva": 0, "data": "0xabc"}]}""", "an odd number of hex digits")]
    [InlineData("""{"name": "n", "steps": [{"op": "host.write", "hva": 0, "data": {"fill": "aa", "len": 4}}]}""", "fill without 0x")]
    [InlineData("""{"name": "n", "steps": [{"op": "kernel.read", "pfn": 1, "len": 1, "requester": "tdx"}]}""", "an unknown requester")]
    [InlineData("""{"name": "n", "steps": [{"op": "host.read", "hva": 0, "len": 1, "expect": {"sigbus": {"code": "BUS_MCEERR"}}}]}""", "an unknown SIGBUS code")]
    [InlineData("""{"name": "n", "steps": [{"op": "host.read", "hva": 0, "len": 1, "expect": {"errno": "efault"}}]}""", "an errno in lower case")]
    [InlineData("""{"name": "n", "steps": [{"op": "inspect", "pfn": 1, "expect": {"state": {"poisoned": true}}}]}""", "an unknown state field")]
    [InlineData("""{"name": "n", "steps": [{"op": "inspect", "pfn": 1, "expect": {"state": {"refcount": "2"}}}]}""", "refcount as a string")]
    [InlineData("""{"name": "n", "steps": [{"op": "hw.flip-bit", "pfn": 1, "bit": 512}]}""", "a bit past the 64-byte line")]
    [InlineData("""{"name": "n", "steps": [{"op": "host.exit", "expect": "passed"}]}""", "an unknown outcome")]
    [InlineData("""{"name": "n", "components": {"polcy": "none"}, "steps": []}""", "an unknown component kind")]
    public void Schema_RejectsWhatTheEngineRejects(string json, string what)
    {
        var results = ScenarioSchema.Evaluate(json);

        Assert.False(results.IsValid, $"the schema accepted {what}: {json}");
        Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(json, "case.json"));
    }
}

/// <summary>Every ```json or ```jsonc block in docs/*.md that is a whole scenario (an object with "steps") is one the schema accepts.</summary>
public sealed class MarkdownExampleTests
{
    public static TheoryData<string, int> ScenarioBlocks()
    {
        var data = new TheoryData<string, int>();
        foreach (var (file, line, _) in DocsFiles.MarkdownScenarios())
            data.Add(file, line);
        return data;
    }

    [Theory]
    [MemberData(nameof(ScenarioBlocks))]
    public void MarkdownScenario_ValidatesAgainstTheSchema(string file, int line) =>
        ScenarioSchema.AssertValid(DocsFiles.MarkdownScenarios().Single(b => b.File == file && b.Line == line).Json, $"{file}:{line}");

    [Fact]
    public void ScenarioFormatPage_HasScenarioExamples() =>
        Assert.Contains(DocsFiles.MarkdownScenarios(), b => b.File == "docs/scenario-format.md");
}

/// <summary>The schema, loaded once, and evaluation with messages that say where the instance broke it.</summary>
internal static class ScenarioSchema
{
    public static string Path { get; } = System.IO.Path.Combine(TestPaths.RepoRoot, "docs", "scenario.schema.json");

    private static readonly JsonSchema Schema = JsonSchema.FromText(File.ReadAllText(Path), new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    /// <summary>Scenario files allow comments and trailing commas; the schema sees the plain JSON.</summary>
    private static readonly JsonDocumentOptions ScenarioJson = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static EvaluationResults Evaluate(string json)
    {
        using var document = JsonDocument.Parse(json, ScenarioJson);
        return Schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    public static void AssertValid(string json, string what)
    {
        var results = Evaluate(json);
        Assert.True(results.IsValid, $"{what} does not validate against docs/scenario.schema.json:\n{Describe(results)}");
    }

    public static string Describe(EvaluationResults results) =>
        string.Join("\n", (results.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"  at {d.InstanceLocation} (schema {d.EvaluationPath}): {e.Key}: {e.Value}"))
            .Take(20));
}

internal static class DocsFiles
{
    public static IReadOnlyList<string> Scenarios() => JsonFiles("scenarios");

    public static IReadOnlyList<string> Examples() => JsonFiles(System.IO.Path.Combine("docs", "examples"));

    public static TheoryData<string> Relative(IReadOnlyList<string> files)
    {
        var data = new TheoryData<string>();
        foreach (var file in files) data.Add(System.IO.Path.GetRelativePath(TestPaths.RepoRoot, file).Replace('\\', '/'));
        return data;
    }

    /// <summary>(repository-relative file, 1-based line of the opening fence, JSON text) of each whole-scenario block.</summary>
    public static IReadOnlyList<(string File, int Line, string Json)> MarkdownScenarios()
    {
        var blocks = new List<(string, int, string)>();
        foreach (var file in Directory.EnumerateFiles(System.IO.Path.Combine(TestPaths.RepoRoot, "docs"), "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim() is not ("```json" or "```jsonc")) continue;
                var end = Array.FindIndex(lines, i + 1, l => l.Trim() == "```");
                if (end < 0) break;
                var json = string.Join("\n", lines[(i + 1)..end]);
                if (IsWholeScenario(json))
                    blocks.Add((System.IO.Path.GetRelativePath(TestPaths.RepoRoot, file).Replace('\\', '/'), i + 1, json));
                i = end;
            }
        }
        return blocks;
    }

    private static bool IsWholeScenario(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("steps", out _);
        }
        catch (JsonException)
        {
            return false; // a fragment such as one outcome or one step
        }
    }

    private static List<string> JsonFiles(string relativeDirectory) =>
        Directory.EnumerateFiles(System.IO.Path.Combine(TestPaths.RepoRoot, relativeDirectory), "*.json", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .ToList();
}
