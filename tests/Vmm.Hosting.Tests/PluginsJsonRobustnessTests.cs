using System.Text;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

/// <summary>
/// Every bad plugins.json is one <see cref="PluginLoadException"/>: one line, a few hundred characters at
/// most, naming the file, the place and the fix. Fuzz/ keeps a minimal reproducer of each class the
/// plugins.json fuzzer (<see cref="PluginsJsonFuzzTests"/>) found.
/// </summary>
public sealed class PluginsJsonRobustnessTests
{
    /// <summary>The longest message a bad plugins.json may give (the file's own path included).</summary>
    public const int MaxMessageLength = 512;

    private static readonly string CorpusDirectory = Path.Combine(TestPaths.RepoRoot, "tests", "Vmm.Hosting.Tests", "Fuzz");

    /// <summary>Reproducer → a part of the message it must give. Every file in Fuzz/ is listed here.</summary>
    public static TheoryData<string, string> Corpus() => new()
    {
        // Escaped before as ArgumentException (Path.GetFullPath).
        { "nul-in-path.json", ":1:39: plugins[0]: \"path\" contains a NUL character" },
        // Escaped before as InvalidOperationException from System.Text.Json, with no file named.
        { "invalid-utf8-in-name.json", ":1:26: this string is not valid UTF-8; save plugins.json as UTF-8" },
        { "invalid-utf8-in-property-name.json", ":1:18: this property name is not valid UTF-8" },
        { "truncated-utf8-sequence.json", ":1:26: this string is not valid UTF-8" },
        { "lone-surrogate-in-path.json", ":1:39: this string has a \\u escape of half a surrogate pair" },
        { "lone-surrogate-in-property-name.json", ":1:18: this property name has a \\u escape of half a surrogate pair" },
        // Echoed the whole user string into the message before.
        { "long-name.json", "plugins[0] \"NNNNNNNN" },
        { "long-unknown-property.json", ":1:18: plugins[0]: unknown property \"pppp" },
        { "long-duplicate-property.json", ": duplicate property \"dddd" },
        { "long-path.json", "plugins[0] \"A\": file x/x/x/" },
        // The reader's "invalid JSON literal" quotes the rest of the file, newlines and bad bytes included.
        { "bad-literal-echoes-the-rest.json", ":1:15: invalid JSON: 't\\n  \"xxxxxxxx" },
        // A newline or an escape sequence in a name broke the one-line message.
        { "control-characters-in-name.json", ":1:26: plugins[0]: \"name\" \"line one\\nline two\\u001b[31m\" has a control character; use a plain one-line name" },
        // Said "not found" for something that is there.
        { "path-is-a-directory.json", "plugins[0] \"Here\": path . is a directory; name the plugin's .dll inside it" },
        // Failed later with a confusing "registers ..., which plugin 'A' already registers".
        { "duplicate-entry.json", ":1:55: plugins[1] lists the same assembly as plugins[0]" },
        // Shapes that were already bad input, kept so they stay that way.
        { "deeply-nested.json", ": invalid JSON: The maximum configured depth of 64 has been exceeded" },
        { "not-an-object.json", ":1:1: plugins.json holds one object like" },
        { "plugins-is-a-string.json", ":1:14: \"plugins\" is a list like" },
        { "path-is-a-number.json", ":1:39: plugins[0]: \"path\" is the plugin assembly as a non-empty string, relative to plugins.json; not 42" },
        { "name-is-null.json", ":1:26: plugins[0]: \"name\" is a non-empty string, not null" },
        { "empty-path.json", ":1:39: plugins[0]: \"path\" is the plugin assembly as a non-empty string, relative to plugins.json; not \"\"" },
        { "empty-file.json", ": invalid JSON:" },
        { "nul-byte-in-file.json", ":1:28: invalid JSON:" },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Load_FuzzReproducer_IsOneShortPluginLoadException(string file, string expected)
    {
        using var scratch = new ScratchDirectory();
        var path = Path.Combine(scratch.Path, "plugins.json");
        File.Copy(Path.Combine(CorpusDirectory, file), path);

        var error = Assert.Throws<PluginLoadException>(() => VmmHost.Load(path));

        AssertOneShortLine(error, path);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corpus_ListsEveryFileInTheFuzzFolder()
    {
        var listed = Corpus().Select(row => (string)row[0]).Order(StringComparer.Ordinal);
        var files = Directory.EnumerateFiles(CorpusDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal);

        Assert.Equal(files, listed);
    }

    [Fact]
    public void Load_HugeFile_SaysItIsNoPluginsFileWithoutReadingItAll()
    {
        using var scratch = new ScratchDirectory();
        var path = scratch.Write("plugins.json", "{ \"plugins\": [] " + new string(' ', PluginsManifest.MaxFileBytes) + "}");

        var error = Assert.Throws<PluginLoadException>(() => VmmHost.Load(path));

        AssertOneShortLine(error, path);
        Assert.Contains("larger than 1 MiB, so it is not a plugins file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_PluginsJsonThatIsADirectory_SaysToPassTheFileInside()
    {
        using var scratch = new ScratchDirectory();

        var error = Assert.Throws<PluginLoadException>(() => VmmHost.Load(scratch.Path));

        Assert.Equal($"{scratch.Path}: is a directory; pass the plugins.json file inside it", error.Message);
    }

    [Theory]
    [InlineData("", "the plugins file is an empty path; name a file")]
    [InlineData("dir/plug\0ins.json", "the plugins file \"dir/plug\\u0000ins.json\" contains a NUL character (\\u0000), which no file name can hold; remove it")]
    public void Load_PathNoFileCanHave_IsAPluginLoadException(string path, string message)
    {
        var error = Assert.Throws<PluginLoadException>(() => VmmHost.Load(path));

        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("a\0b.json", null, "--plugins \"a\\u0000b.json\" contains a NUL character")]
    [InlineData(null, "a\0b.json", "VMM_PLUGINS \"a\\u0000b.json\" contains a NUL character")]
    public void Find_PathWithNul_IsAPluginLoadException(string? explicitPath, string? environment, string message)
    {
        var error = Assert.Throws<PluginLoadException>(() => PluginsLocator.Find(explicitPath, environment, [Path.GetTempPath()]));

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/dev/null")]
    [InlineData("/dev/zero")]
    public void Load_PluginPathToADevice_IsRefusedWithoutReadingIt(string device)
    {
        if (!File.Exists(device)) return;
        using var scratch = new ScratchDirectory();
        var path = scratch.PluginsJson(("Device", device));

        var error = Assert.Throws<PluginLoadException>(() => VmmHost.Load(path));

        Assert.Equal($"{path}: plugins[0] \"Device\": {device} is empty, or not a regular file (devices and pipes have no length); name the plugin's .dll, or rebuild it with: dotnet build hosts/Vmm.Cli", error.Message);
    }

    [Fact]
    public void Echo_EscapesControlCharactersAndLoneSurrogatesAndKeepsPairs()
    {
        Assert.Equal("plain", PluginLoadException.Echo("plain"));
        Assert.Equal("tab\\there\\nand\\u0000", PluginLoadException.Echo("tab\there\nand\0"));
        Assert.Equal("\\ud800x\\udc00", PluginLoadException.Echo("\ud800x\udc00"));
        Assert.Equal("emoji \ud83d\ude00", PluginLoadException.Echo("emoji \ud83d\ude00"));
    }

    [Fact]
    public void Echo_CutsLongTextWithAnEllipsis()
    {
        var echoed = PluginLoadException.Echo(new string('x', 100_000));

        Assert.Equal(new string('x', PluginLoadException.EchoLength) + "…", echoed);
    }

    internal static void AssertOneShortLine(PluginLoadException error, string pluginsFile)
    {
        Assert.True(error.Message.Length <= MaxMessageLength, $"message of {error.Message.Length} characters: {error.Message[..Math.Min(error.Message.Length, 600)]}");
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\r', error.Message);
        Assert.StartsWith(pluginsFile, error.Message, StringComparison.Ordinal);
    }
}
