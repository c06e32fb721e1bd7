using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using CsCheck;
using Vmm.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Vmm.Hosting.Tests;

/// <summary>
/// Structure-aware fuzzing of plugins.json through <see cref="VmmHost.Load"/>: documents built from the
/// manifest's own shape (real plugin assemblies, missing files, directories, devices, wrong types, long and
/// odd strings), then mutated at the byte level (flips, NUL, invalid UTF-8, lone surrogate escapes, cuts,
/// deep nesting). Loading may succeed or throw <see cref="PluginLoadException"/> with a short one-line
/// message; anything else is a bug. A few hundred inputs in the normal run; set VMM_FUZZ_LONG=1 for 100,000.
/// </summary>
public sealed class PluginsJsonFuzzTests(ITestOutputHelper output)
{
    public const string LongModeVariable = "VMM_FUZZ_LONG";

    private static readonly bool LongMode = Environment.GetEnvironmentVariable(LongModeVariable) == "1";
    private static readonly long Iterations = LongMode ? 100_000 : 400;

    [Fact]
    public void Load_FuzzedPluginsJson_OnlyEverThrowsAShortPluginLoadException()
    {
        using var scratch = new ScratchDirectory();
        Directory.CreateDirectory(Path.Combine(scratch.Path, "sub"));
        File.WriteAllText(Path.Combine(scratch.Path, "sub", "NotAnAssembly.dll"), "MZ but nothing else");
        long inputs = 0, loaded = 0, refused = 0, escaped = 0;
        var examples = new ConcurrentQueue<string>();

        // Every input runs; escapes are counted and a few kept, so that the long mode reports how many there were.
        Documents(scratch.Path).Sample(document =>
        {
            Interlocked.Increment(ref inputs);
            var file = Path.Combine(scratch.Path, $"plugins-{Environment.CurrentManagedThreadId}.json");
            File.WriteAllBytes(file, document);
            try
            {
                using var host = VmmHost.Load(file);
                Interlocked.Increment(ref loaded);
            }
            catch (PluginLoadException e)
            {
                Interlocked.Increment(ref refused);
                if (e.Message.Length > PluginsJsonRobustnessTests.MaxMessageLength || e.Message.Contains('\n', StringComparison.Ordinal) || !e.Message.StartsWith(file, StringComparison.Ordinal))
                    Escape($"a message of {e.Message.Length} characters: {PluginLoadException.Echo(e.Message, 300)}");
            }
            catch (Exception e)
            {
                Escape($"{e.GetType().Name}: {PluginLoadException.Echo(e.Message, 300)}");
            }

            void Escape(string what)
            {
                if (Interlocked.Increment(ref escaped) <= 5) examples.Enqueue($"{what}\n  input {Show(document)}");
            }
        }, iter: Iterations);

        output.WriteLine($"plugins.json fuzz: {inputs} inputs, {loaded} loaded, {refused} refused with a PluginLoadException, {escaped} escaped{(LongMode ? "" : $" (set {LongModeVariable}=1 for 100,000)")}");
        Assert.True(escaped == 0, $"{escaped} of {inputs} inputs escaped:\n" + string.Join("\n", examples));
    }

    /// <summary>Whole plugins.json files as bytes: a structured document, then up to three byte mutations.</summary>
    private static Gen<byte[]> Documents(string scratch) =>
        Gen.Select(Document(scratch), Mutation.List[0, 3], (text, mutations) =>
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            foreach (var mutate in mutations) bytes = mutate(bytes);
            return bytes;
        });

    private static Gen<string> Document(string scratch) => Gen.Frequency(
        (10, Gen.Select(Entry(scratch).List[0, 4], Extras, Layout, (entries, extra, layout) =>
            "{" + layout + "\"plugins\": [" + string.Join(", ", entries) + (layout.Contains(',', StringComparison.Ordinal) ? ", " : "") + "]" + extra + "}")),
        (1, Value.Select(v => "{ \"plugins\": " + v + " }")),
        (1, Value));

    /// <summary>One entry: usually a name and a path, sometimes with a wrong type, a missing or a repeated property.</summary>
    private static Gen<string> Entry(string scratch) => Gen.Frequency(
        (8, Gen.Select(Name, PathValue(scratch), (name, path) => $"{{ \"name\": {name}, \"path\": {path} }}")),
        (2, PathValue(scratch).Select(path => $"{{ \"path\": {path} }}")),
        (1, Name.Select(name => $"{{ \"name\": {name} }}")),
        (1, Gen.Select(Key, Value, PathValue(scratch), (key, value, path) => $"{{ {key}: {value}, \"path\": {path} }}")),
        (1, PathValue(scratch).Select(path => $"{{ \"path\": {path}, \"path\": {path} }}")),
        (1, Value));

    private static Gen<string> Name => Gen.Frequency(
        (6, Gen.OneOfConst("Baseline", "Fakes", "A", "plugin with spaces", "ünïcödé").Select(Json)),
        (2, Text.Select(Json)),
        (1, Value));

    /// <summary>Paths that exist (real plugins, a directory, a non-assembly, devices) and ones that cannot.</summary>
    private static Gen<string> PathValue(string scratch)
    {
        string[] real =
        [
            TestPaths.TestPlugin("Vmm.TestPlugins.Fakes"),
            TestPaths.TestPlugin("Vmm.TestPlugins.NoPlugin"),
            TestPaths.TestPlugin("Vmm.TestPlugins.Throws"),
            TestPaths.TestPlugin("Vmm.TestPlugins.Duplicate"),
            Path.Combine(TestPaths.RepoRoot, "artifacts", "plugins", "Vmm.Plugins.Baseline", "Vmm.Plugins.Baseline.dll"),
        ];
        string[] odd =
        [
            "missing.dll", ".", "..", "/", "sub", "sub/", "sub/NotAnAssembly.dll", "sub/../sub/NotAnAssembly.dll",
            "/dev/null", "/dev/zero", Path.Combine(scratch, "plugins-1.json"), "~/x.dll", "C:\\plugins\\a.dll", " ",
        ];
        return Gen.Frequency(
            (4, Gen.OneOfConst(real).Select(Json)),
            (4, Gen.OneOfConst(odd).Select(Json)),
            (2, Text.Select(Json)),
            (1, Gen.OneOfConst("\"a\\u0000b.dll\"", "\"\\ud800.dll\"", "\"x\\udc00\"", "\"\\u0000\"")),
            (1, Value));
    }

    /// <summary>Strings with every awkward character: controls, quotes, backslashes, lone surrogates, and long runs.</summary>
    private static Gen<string> Text => Gen.Frequency(
        (6, Gen.String[0, 24]),
        (2, Gen.Char[(char)0, (char)0x7f].Array[0, 16].Select(chars => new string(chars))),
        (1, Gen.Char[(char)0xd7f0, (char)0xe010].Array[1, 6].Select(chars => new string(chars))),
        (1, Gen.Select(Gen.Int[200, 5_000], Gen.Char["abcxyzABCXYZ019"], (n, c) => new string(c, n))),
        (1, Gen.Int[0, 20].Select(n => n == 0 ? new string('N', 100_000) : new string('/', n * 100))));

    private static Gen<string> Key => Gen.Frequency(
        (3, Gen.OneOfConst("name", "path", "plugins", "$schema", "Name", "PATH", "enabled", "")),
        (1, Text)).Select(Json);

    /// <summary>Any JSON value, nested a little, or nested far past the reader's limit.</summary>
    private static Gen<string> Value => Gen.Frequency(
        (4, Gen.OneOfConst("null", "true", "false", "0", "-1", "42", "1e400", "\"\"", "[]", "{}", "[1, 2]", "{\"a\": 1}")),
        (2, Text.Select(Json)),
        (1, Gen.Int[1, 300].Select(depth => new string('[', depth) + new string(']', depth))),
        (1, Gen.Int[1, 100].Select(depth => string.Concat(Enumerable.Repeat("{\"a\": ", depth)) + "1" + new string('}', depth))));

    /// <summary>What sits between the braces besides "plugins": nothing, "$schema", unknown properties, comments.</summary>
    private static Gen<string> Extras => Gen.Frequency(
        (6, Gen.Const("")),
        (1, Gen.Const(", \"$schema\": \"x\"")),
        (1, Gen.Select(Key, Value, (key, value) => $", {key}: {value}")),
        (1, Gen.Const(", \"plugins\": []")));

    private static Gen<string> Layout => Gen.OneOfConst(" ", "\n  ", " /* c */ ", "\n  // note\n  ", " ,");

    /// <summary>Byte-level damage to a document.</summary>
    private static Gen<Func<byte[], byte[]>> Mutation => Gen.Frequency(
        (3, Gen.Select(Gen.Int, Gen.Byte, (at, value) => (Func<byte[], byte[]>)(bytes => Flip(bytes, at, value)))),
        (3, Gen.Select(Gen.Int, Gen.OneOfConst(Inserts), (at, insert) => (Func<byte[], byte[]>)(bytes => Insert(bytes, at, insert)))),
        (1, Gen.Int.Select(at => (Func<byte[], byte[]>)(bytes => bytes.Length == 0 ? bytes : bytes[..Position(bytes, at)]))),
        (1, Gen.Select(Gen.Int, Gen.Int[1, 64], (at, length) => (Func<byte[], byte[]>)(bytes => Delete(bytes, at, length)))));

    private static readonly byte[][] Inserts =
    [
        [0x00], [0xff], [0xfe, 0xff], [0xc0, 0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80],
        "\\ud800"u8.ToArray(), "\\udfff\\ud800"u8.ToArray(), "\\u0000"u8.ToArray(), "\""u8.ToArray(), "\\"u8.ToArray(),
        "{"u8.ToArray(), "]"u8.ToArray(), ","u8.ToArray(), "/*"u8.ToArray(), "\uFEFF"u8.ToArray(),
        Encoding.ASCII.GetBytes(new string('[', 100)),
    ];

    private static int Position(byte[] bytes, int at) => (int)((uint)at % (uint)(bytes.Length + 1));

    private static byte[] Flip(byte[] bytes, int at, byte value)
    {
        if (bytes.Length == 0) return bytes;
        var copy = (byte[])bytes.Clone();
        copy[(int)((uint)at % (uint)copy.Length)] ^= value;
        return copy;
    }

    private static byte[] Insert(byte[] bytes, int at, byte[] insert)
    {
        var position = Position(bytes, at);
        return [.. bytes.AsSpan(0, position), .. insert, .. bytes.AsSpan(position)];
    }

    private static byte[] Delete(byte[] bytes, int at, int length)
    {
        var position = Position(bytes, at);
        var end = Math.Min(bytes.Length, position + length);
        return [.. bytes.AsSpan(0, position), .. bytes.AsSpan(end)];
    }

    /// <summary>A JSON string literal for any .NET string, lone surrogates included (as \u escapes).</summary>
    private static string Json(string text)
    {
        var builder = new StringBuilder(text.Length + 2).Append('"');
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                builder.Append(c).Append(text[++i]);
            else if (c is '"' or '\\')
                builder.Append('\\').Append(c);
            else if (c < 0x20 || char.IsSurrogate(c))
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else
                builder.Append(c);
        }
        return builder.Append('"').ToString();
    }

    /// <summary>The failing input as CsCheck prints it: bytes shown as text with the odd ones escaped, cut short.</summary>
    private static string Show(byte[] document)
    {
        var text = new StringBuilder();
        foreach (var b in document.Take(2_000))
            text.Append(b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}");
        return $"{document.Length} bytes: {text}";
    }
}
