using System.Text.Json;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>One entry of plugins.json: a display name and the assembly path (relative to plugins.json).</summary>
public sealed record PluginEntry(int Index, string Name, string Path, string FullPath, SourceLocation Location)
{
    /// <summary>"plugins[0] \"Baseline\"" as messages name the entry.</summary>
    public string Label => $"plugins[{Index}] \"{Name}\"";
}

/// <summary>
/// Reads plugins.json: <c>{"plugins": [{"name": "Baseline", "path": "artifacts/plugins/Vmm.Plugins.Baseline/Vmm.Plugins.Baseline.dll"}]}</c>
/// (comments and trailing commas allowed; paths relative to the file).
/// </summary>
public static class PluginsManifest
{
    private const string Example = "{\"plugins\": [{\"name\": \"Baseline\", \"path\": \"artifacts/plugins/Vmm.Plugins.Baseline/Vmm.Plugins.Baseline.dll\"}]}";

    public static IReadOnlyList<PluginEntry> Read(string pluginsJsonPath)
    {
        ArgumentNullException.ThrowIfNull(pluginsJsonPath);
        var fullPath = Path.GetFullPath(pluginsJsonPath);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(fullPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PluginLoadException($"{fullPath}: plugins file not found; pass --plugins FILE, set VMM_PLUGINS, or run from the repository root (which has plugins.json)", fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PluginLoadException($"{fullPath}: cannot read the plugins file: {e.Message}", fullPath);
        }

        JsonDocument document;
        JsonSourceMap map;
        try
        {
            (document, map) = JsonSourceMap.Parse(bytes, fullPath);
        }
        catch (ScenarioException e)
        {
            throw new PluginLoadException($"{e.Location}: {e.Message}", fullPath);
        }

        using (document)
        {
            var root = document.RootElement;
            PluginLoadException Fail(string path, string message, bool atName = false) =>
                new($"{(atName ? map.NameOf(path) : map.ValueOf(path))}: {message}", fullPath);

            if (root.ValueKind != JsonValueKind.Object)
                throw Fail("$", $"plugins.json holds one object like {Example}");
            foreach (var property in root.EnumerateObject())
                if (property.Name is not ("plugins" or "$schema"))
                    throw Fail(JsonSourceMap.Child("$", property.Name), $"unknown property \"{property.Name}\"; plugins.json holds one object like {Example}", atName: true);
            if (!root.TryGetProperty("plugins", out var plugins))
                throw Fail("$", $"plugins.json needs \"plugins\", like {Example}");
            if (plugins.ValueKind != JsonValueKind.Array)
                throw Fail("$.plugins", $"\"plugins\" is a list like [{{\"name\": \"Baseline\", \"path\": \"...dll\"}}]");

            var entries = new List<PluginEntry>();
            var directory = Path.GetDirectoryName(fullPath)!;
            var index = 0;
            foreach (var item in plugins.EnumerateArray())
            {
                var itemPath = JsonSourceMap.Item("$.plugins", index);
                if (item.ValueKind != JsonValueKind.Object)
                    throw Fail(itemPath, $"plugins[{index}] is an object like {{\"name\": \"Baseline\", \"path\": \"...dll\"}}");
                foreach (var property in item.EnumerateObject())
                    if (property.Name is not ("name" or "path"))
                        throw Fail(JsonSourceMap.Child(itemPath, property.Name), $"plugins[{index}]: unknown property \"{property.Name}\"; use one of: name, path", atName: true);
                if (!item.TryGetProperty("path", out var pathElement) || pathElement.ValueKind != JsonValueKind.String || pathElement.GetString()!.Length == 0)
                    throw Fail(item.TryGetProperty("path", out _) ? $"{itemPath}.path" : itemPath, $"plugins[{index}] needs \"path\": the plugin assembly, relative to plugins.json");
                var path = pathElement.GetString()!;
                string name;
                if (item.TryGetProperty("name", out var nameElement))
                {
                    if (nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Length == 0)
                        throw Fail($"{itemPath}.name", $"plugins[{index}]: \"name\" is a non-empty string");
                    name = nameElement.GetString()!;
                }
                else
                {
                    name = System.IO.Path.GetFileNameWithoutExtension(path);
                }
                entries.Add(new PluginEntry(index, name, path, System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, path)), map.ValueOf(itemPath)));
                index++;
            }
            return entries;
        }
    }
}
