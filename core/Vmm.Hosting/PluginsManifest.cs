using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>One entry of plugins.json: a display name and the assembly path (relative to plugins.json), at <see cref="Line"/> and <see cref="Column"/>.</summary>
public sealed record PluginEntry(int Index, string Name, string Path, string FullPath, long Line, long Column)
{
    /// <summary>"plugins[0] \"Baseline\"" as messages name the entry (a long name cut short).</summary>
    public string Label => $"plugins[{Index}] \"{PluginLoadException.Echo(Name)}\"";
}

/// <summary>
/// Reads plugins.json: <c>{"plugins": [{"name": "Baseline", "path": "artifacts/plugins/Vmm.Plugins.Baseline/Vmm.Plugins.Baseline.dll"}]}</c>
/// (comments and trailing commas allowed; paths relative to the file). Every problem with the file is one
/// <see cref="PluginLoadException"/> naming the file, the line and column, and the fix.
/// </summary>
public static partial class PluginsManifest
{
    /// <summary>Largest plugins.json read: a real one lists a few plugins in well under a kilobyte.</summary>
    public const int MaxFileBytes = 1 << 20;

    private const string Example = "{\"plugins\": [{\"name\": \"Baseline\", \"path\": \"artifacts/plugins/Vmm.Plugins.Baseline/Vmm.Plugins.Baseline.dll\"}]}";
    private const string EntryExample = "{\"name\": \"Baseline\", \"path\": \"...dll\"}";

    public static IReadOnlyList<PluginEntry> Read(string pluginsJsonPath)
    {
        ArgumentNullException.ThrowIfNull(pluginsJsonPath);
        var fullPath = PluginsLocator.FullPathOf(pluginsJsonPath, "the plugins file");
        var bytes = ReadBytes(fullPath);
        CheckStrings(bytes, fullPath);

        JsonDocument document;
        JsonSourceMap map;
        try
        {
            (document, map) = JsonSourceMap.Parse(bytes, fullPath);
        }
        catch (ScenarioException e)
        {
            throw new PluginLoadException($"{e.Location}: {EchoQuoted(e.Message)}", fullPath);
        }
        catch (InvalidOperationException e)
        {
            // CheckStrings finds every string .NET cannot read; this is the backstop that still names the file.
            throw new PluginLoadException($"{fullPath}: text that System.Text.Json cannot read ({PluginLoadException.Echo(e.Message, 120)}); save plugins.json as plain UTF-8 JSON", fullPath);
        }

        using (document)
            return ReadEntries(document.RootElement, map, fullPath);
    }

    private static List<PluginEntry> ReadEntries(JsonElement root, JsonSourceMap map, string fullPath)
    {
        PluginLoadException Fail(string path, string message, bool atName = false) =>
            new($"{(atName ? map.NameOf(path) : map.ValueOf(path))}: {message}", fullPath);

        if (root.ValueKind != JsonValueKind.Object)
            throw Fail("$", $"plugins.json holds one object like {Example}, not {Describe(root)}");
        foreach (var property in root.EnumerateObject())
            if (property.Name is not ("plugins" or "$schema"))
                throw Fail(JsonSourceMap.Child("$", property.Name), $"unknown property \"{PluginLoadException.Echo(property.Name)}\"; plugins.json holds one object like {Example}", atName: true);
        if (!root.TryGetProperty("plugins", out var plugins))
            throw Fail("$", $"plugins.json needs \"plugins\", like {Example}");
        if (plugins.ValueKind != JsonValueKind.Array)
            throw Fail("$.plugins", $"\"plugins\" is a list like [{EntryExample}], not {Describe(plugins)}");

        var entries = new List<PluginEntry>();
        var directory = Path.GetDirectoryName(fullPath)!;
        var index = 0;
        foreach (var item in plugins.EnumerateArray())
        {
            var itemPath = JsonSourceMap.Item("$.plugins", index);
            if (item.ValueKind != JsonValueKind.Object)
                throw Fail(itemPath, $"plugins[{index}] is an object like {EntryExample}, not {Describe(item)}");
            foreach (var property in item.EnumerateObject())
                if (property.Name is not ("name" or "path"))
                    throw Fail(JsonSourceMap.Child(itemPath, property.Name), $"plugins[{index}]: unknown property \"{PluginLoadException.Echo(property.Name)}\"; use one of: name, path", atName: true);

            if (!item.TryGetProperty("path", out var pathElement))
                throw Fail(itemPath, $"plugins[{index}] needs \"path\": the plugin assembly, relative to plugins.json");
            if (pathElement.ValueKind != JsonValueKind.String || pathElement.GetString()!.Length == 0)
                throw Fail($"{itemPath}.path", $"plugins[{index}]: \"path\" is the plugin assembly as a non-empty string, relative to plugins.json; not {Describe(pathElement)}");
            var path = pathElement.GetString()!;
            if (path.Contains('\0', StringComparison.Ordinal))
                throw Fail($"{itemPath}.path", $"plugins[{index}]: \"path\" contains a NUL character (\\u0000), which no file name can hold; remove it");

            string name;
            if (item.TryGetProperty("name", out var nameElement))
            {
                if (nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Length == 0)
                    throw Fail($"{itemPath}.name", $"plugins[{index}]: \"name\" is a non-empty string, not {Describe(nameElement)}");
                name = nameElement.GetString()!;
                if (name.Any(char.IsControl))
                    throw Fail($"{itemPath}.name", $"plugins[{index}]: \"name\" \"{PluginLoadException.Echo(name)}\" has a control character; use a plain one-line name");
            }
            else
            {
                name = Path.GetFileNameWithoutExtension(path);
            }

            var entryFullPath = PluginsLocator.FullPathOf(Path.Combine(directory, path), $"{map.ValueOf($"{itemPath}.path")}: plugins[{index}] \"path\"", fullPath);
            if (entries.FirstOrDefault(e => e.FullPath == entryFullPath) is { } earlier)
                throw Fail(itemPath, $"plugins[{index}] lists the same assembly as plugins[{earlier.Index}] ({PluginLoadException.Echo(entryFullPath)}); remove one of them");
            var location = map.ValueOf(itemPath);
            entries.Add(new PluginEntry(index, name, path, entryFullPath, location.Line, location.Column));
            index++;
        }
        return entries;
    }

    /// <summary>The file's bytes; a directory, a missing or unreadable file, or one over <see cref="MaxFileBytes"/> is a <see cref="PluginLoadException"/>.</summary>
    private static byte[] ReadBytes(string fullPath)
    {
        if (Directory.Exists(fullPath))
            throw new PluginLoadException($"{fullPath}: is a directory; pass the plugins.json file inside it", fullPath);
        try
        {
            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            // Read at most one byte past the limit, so that a device or a huge file is not read whole.
            var buffer = new byte[MaxFileBytes + 1];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0) length += read;
            if (length > MaxFileBytes)
                throw new PluginLoadException($"{fullPath}: larger than {MaxFileBytes >> 20} MiB, so it is not a plugins file (one lists a few plugin assemblies); pass the right file with --plugins", fullPath);
            return buffer[..length];
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PluginLoadException($"{fullPath}: plugins file not found; pass --plugins FILE, set VMM_PLUGINS, or run from the repository root (which has plugins.json)", fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PluginLoadException($"{fullPath}: cannot read the plugins file: {PluginLoadException.Echo(e.Message, 160)}", fullPath);
        }
    }

    /// <summary>
    /// Every property name and string must be text .NET can read: valid UTF-8 and no lone surrogate escape
    /// (<c>"\ud800"</c>). System.Text.Json only finds out when a string is read, and then says neither where nor why.
    /// </summary>
    private static void CheckStrings(byte[] bytes, string fullPath)
    {
        var utf8 = bytes.AsSpan();
        var bomLength = utf8.StartsWith("\uFEFF"u8) ? 3 : 0;
        var reader = new Utf8JsonReader(utf8[bomLength..], new JsonReaderOptions
        {
            CommentHandling = JsonSourceMap.DocumentOptions.CommentHandling,
            AllowTrailingCommas = JsonSourceMap.DocumentOptions.AllowTrailingCommas,
            MaxDepth = JsonSourceMap.DocumentOptions.MaxDepth,
        });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.PropertyName or JsonTokenType.String)) continue;
                try
                {
                    reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    var location = Locate(utf8, bomLength + reader.TokenStartIndex, fullPath);
                    var what = reader.TokenType == JsonTokenType.PropertyName ? "property name" : "string";
                    throw new PluginLoadException(reader.ValueIsEscaped && System.Text.Unicode.Utf8.IsValid(reader.ValueSpan)
                        ? $"{location}: this {what} has a \\u escape of half a surrogate pair (like \\ud800 alone), which is no character; write the character itself, or both halves of the pair"
                        : $"{location}: this {what} is not valid UTF-8; save plugins.json as UTF-8", fullPath);
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON: JsonSourceMap.Parse reports it with its line and column.
        }
    }

    private static SourceLocation Locate(ReadOnlySpan<byte> utf8, long offset, string file)
    {
        long line = 1, column = 1;
        for (var i = 0; i < offset && i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\n')
            {
                line++;
                column = 1;
            }
            else if ((utf8[i] & 0xC0) != 0x80)
            {
                column++;
            }
        }
        return new SourceLocation(file, line, column);
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"\"{PluginLoadException.Echo(element.GetString()!)}\"",
        _ => PluginLoadException.Echo(element.GetRawText()),
    };

    /// <summary>
    /// A message from the JSON reader as one short line: it quotes names in double quotes and, for a bad
    /// literal, the raw text after it in single quotes (newlines and invalid UTF-8 included).
    /// </summary>
    private static string EchoQuoted(string message)
    {
        message = Quoted().Replace(message, m => $"\"{PluginLoadException.Echo(m.Groups[1].Value)}\"");
        message = SingleQuoted().Replace(message, m => $"'{PluginLoadException.Echo(m.Groups[1].Value, 40)}'");
        return PluginLoadException.Echo(message, 300);
    }

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex Quoted();

    [GeneratedRegex("'([^']*)'")]
    private static partial Regex SingleQuoted();
}
