using System.Text.Json;
using System.Text.Json.Nodes;
using Vmm.Abstractions;

namespace Vmm.Hosting;

/// <summary>
/// A comparison as a JSON file (docs/compare.md, "Comparison files"):
/// <c>{"stacks": [...], "workloads": [...], "baseline": "...", "seed": 1, "repeat": 1, "kernel": "6.11", "options": {"boot.pages": 16}}</c>;
/// every property is optional and defaults as <c>vmm compare</c> does. The same form records a stored run's exact configuration.
/// </summary>
public static class ComparisonFile
{
    private static readonly string[] Properties = ["$schema", "description", "stacks", "workloads", "baseline", "seed", "repeat", "kernel", "options"];

    /// <summary>Reads <paramref name="path"/> into a comparison over <paramref name="defaults"/>; a <see cref="ComparisonException"/> names the file, line and fix.</summary>
    public static Comparison Read(string path, IReadOnlyList<ComponentInfo> components, Comparison defaults)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ComparisonException($"{path}: cannot read the comparison file ({e.Message})", e);
        }
        return Parse(text, path, components, defaults);
    }

    /// <summary>As <see cref="Read"/>, from the file's <paramref name="text"/>; messages name <paramref name="path"/> (where the text came from).</summary>
    public static Comparison Parse(string text, string path, IReadOnlyList<ComponentInfo> components, Comparison defaults)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(path);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ComparisonException($"{path}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: not valid JSON ({FirstSentence(e.Message)})", e);
        }
        if (root is not JsonObject file) throw new ComparisonException($"{path}: a comparison file is a JSON object, e.g. {{\"stacks\": [\"tdx-ci+none\"], \"workloads\": [\"boot\"]}}");
        foreach (var (key, _) in file)
            if (!Properties.Contains(key))
                throw new ComparisonException($"{path}: unknown property \"{key}\"; a comparison file has: {string.Join(", ", Properties.Skip(2))}");

        var comparison = defaults;
        if (file["stacks"] is { } stacks)
            comparison = comparison with { Stacks = Strings(path, "stacks", stacks).Select(s => Stack.Parse(s, components)).ToList() };
        if (file["workloads"] is { } workloads)
            comparison = comparison with { Workloads = Strings(path, "workloads", workloads) };
        if (file["baseline"] is { } baseline)
            comparison = comparison with { Baseline = String(path, "baseline", baseline) };
        else if (file["stacks"] is not null)
            comparison = comparison with { Baseline = comparison.Stacks.Any(s => s.Label == Stack.DefaultBaseline) ? Stack.DefaultBaseline : comparison.Stacks.Count > 0 ? comparison.Stacks[0].Label : Stack.DefaultBaseline };
        if (file["seed"] is { } seed) comparison = comparison with { Seed = Integer(path, "seed", seed) };
        if (file["repeat"] is { } repeat) comparison = comparison with { Repeat = Integer(path, "repeat", repeat) };
        if (file["kernel"] is { } kernel)
        {
            var version = String(path, "kernel", kernel);
            if (!KernelVersion.TryParse(version, out var parsed)) throw new ComparisonException($"{path}: \"kernel\": expected a version like \"6.11\", not \"{version}\"");
            comparison = comparison with { Kernel = parsed };
        }
        if (file["options"] is { } options)
        {
            if (options is not JsonObject table) throw new ComparisonException($"{path}: \"options\" is an object of \"section.option\": value, e.g. {{\"boot.pages\": 16}}");
            comparison = comparison with
            {
                Options = table.Select(o => new KeyValuePair<string, string>(o.Key, o.Value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : o.Value?.ToJsonString() ?? "null")).ToList(),
            };
        }
        return comparison;
    }

    /// <summary>The comparison in this file format (what a store records as the run's configuration).</summary>
    public static string ToJson(Comparison comparison)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        var options = new JsonObject();
        foreach (var (key, value) in comparison.Options)
        {
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(value);
            }
            catch (JsonException)
            {
                node = JsonValue.Create(value);
            }
            options[key] = node;
        }
        var file = new JsonObject
        {
            ["stacks"] = new JsonArray(comparison.Stacks.Select(s => (JsonNode?)s.Label).ToArray()),
            ["workloads"] = new JsonArray(comparison.Workloads.Select(w => (JsonNode?)w).ToArray()),
            ["baseline"] = comparison.Baseline,
            ["seed"] = comparison.Seed,
            ["repeat"] = comparison.Repeat,
        };
        if (comparison.Kernel is { } kernel) file["kernel"] = kernel.ToString();
        if (options.Count > 0) file["options"] = options;
        return file.ToJsonString(ScenarioWriter.Indented);
    }

    private static List<string> Strings(string path, string property, JsonNode node) =>
        node is JsonArray array && array.All(i => i is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            ? array.Select(i => i!.GetValue<string>()).ToList()
            : throw new ComparisonException($"{path}: \"{property}\" is a list of names, e.g. [\"{(property == "stacks" ? "tdx-ci+none" : "boot")}\"]");

    private static string String(string path, string property, JsonNode node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : throw new ComparisonException($"{path}: \"{property}\" is a string");

    private static int Integer(string path, string property, JsonNode node) =>
        node is JsonValue value && value.TryGetValue<int>(out var number) ? number : throw new ComparisonException($"{path}: \"{property}\" is a whole number");

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }
}
