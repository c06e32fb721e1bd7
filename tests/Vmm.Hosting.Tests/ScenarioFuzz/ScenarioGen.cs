using System.Text;
using System.Text.Json;
using CsCheck;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>
/// The CsCheck generator of scenario files, structure-aware. Each input is drawn from one class (the weights
/// below, per mille): generated documents that follow the parser's rules (and so should validate and run), or
/// with a few slips or many wrong values, the repository's
/// scenario files as they are or with token-level mutations, byte-level mutations of either (invalid UTF-8,
/// lone surrogate escapes, truncation, braces), documents aimed at the classes of issue 8, and a few heavy
/// inputs (a 16384T host, 1T–64T conversions, 1 GiB data values). Text is written with one reused
/// <see cref="JsonText"/> per thread. The size CsCheck shrinks by is the file's length, so a shrunk failure is
/// the shortest input found that fails the same way.
/// </summary>
internal sealed class ScenarioGen(FuzzVocabulary vocabulary) : Gen<FuzzInput>
{
    private static readonly (string Name, int PerMille)[] Classes =
    [
        ("generated", 250),
        ("generated+slips", 130),
        ("generated+hazard", 150),
        ("seed-file", 20),
        ("seed-file+tokens", 250),
        ("bytes", 150),
        ("targeted", 48),
        ("heavy", 2),
    ];

    private static readonly int[] ClassWeights = Classes.Select(c => c.PerMille).ToArray();

    private static readonly byte[][] InvalidUtf8 =
    [
        [0xFF], [0xC3], [0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82],
    ];

    [ThreadStatic] private static JsonText? t_text;
    [ThreadStatic] private static ScenarioWriter? t_writer;

    /// <summary>When set, only inputs of classes whose name starts with this (e.g. "heavy") are generated.</summary>
    public string? Only { get; init; }

    public override FuzzInput Generate(PCG pcg, Size? min, out Size size)
    {
        var r = new FuzzRandom(pcg);
        var text = t_text ??= new JsonText();
        var writer = t_writer is { } cached && ReferenceEquals(cached.Vocabulary, vocabulary) ? cached : t_writer = new ScenarioWriter(vocabulary);
        string name, seed;
        byte[] bytes;
        do
        {
            seed = pcg.ToString();
            (name, bytes) = Classes[r.Weighted(ClassWeights)].Name switch
            {
                "generated" => Generated(r, text, writer, "generated", hazard: 0, edge: 0),
                "generated+slips" => Generated(r, text, writer, "generated+slips", hazard: 0.5, edge: 3),
                "generated+hazard" => Generated(r, text, writer, "generated+hazard", hazard: 8, edge: 15),
                "seed-file" => Seed(r),
                "seed-file+tokens" => SeedWithTokens(r, text, writer),
                "bytes" => Bytes(r, text, writer),
                "targeted" => Targeted(r, text, writer),
                _ => Heavy(r, text, writer),
            };
        }
        while (Only is not null && !name.StartsWith(Only, StringComparison.Ordinal));
        size = new Size((ulong)bytes.Length);
        return new FuzzInput(name, bytes, seed);
    }

    private static (string, byte[]) Generated(FuzzRandom r, JsonText j, ScenarioWriter w, string name, double hazard, double edge)
    {
        w.Hazard = hazard;
        w.Edge = edge;
        j.Clear();
        w.Document(r, j);
        return (name, j.ToUtf8());
    }

    private (string, byte[]) Seed(FuzzRandom r) => ("seed-file", r.Pick(vocabulary.Seeds).Bytes);

    /// <summary>One to three tokens of a real file replaced (null, wrong type, size near 2^64, lone surrogate, case), deleted or duplicated; or a generated step or option inserted.</summary>
    private (string, byte[]) SeedWithTokens(FuzzRandom r, JsonText j, ScenarioWriter w)
    {
        var seed = r.Pick(vocabulary.Seeds);
        var edits = new List<(int Start, int End, string Text)>();
        var kinds = new List<string>();
        for (var n = r.Int(1, 3); n > 0; n--)
        {
            var (edit, kind) = TokenEdit(r, seed, j, w);
            if (edits.Exists(e => e.Start < edit.End && edit.Start < e.End || e.Start == edit.Start)) continue;
            edits.Add(edit);
            kinds.Add(kind);
        }
        return ("seed-file+tokens:" + string.Join('+', kinds.Order(StringComparer.Ordinal)), Apply(seed.Bytes, edits));
    }

    private static ((int Start, int End, string Text), string) TokenEdit(FuzzRandom r, SeedFile seed, JsonText j, ScenarioWriter w)
    {
        var tokens = seed.Tokens;
        switch (r.Weighted([55, 20, 12, 13]))
        {
            case 0:
            {
                var values = tokens.Where(t => !t.IsName && t.Depth > 0).ToList();
                var token = r.Pick(values);
                var original = Encoding.UTF8.GetString(seed.Bytes.AsSpan(token.Start, token.End - token.Start));
                var sizeLike = token.Owner is "memory" or "gpa" or "size" or "len" or "offset" or "pfn" or "hva" or "bufferGpa";
                var (text, kind) = r.Weighted([15, 20, 15, 12, 12, 10, 8, 8]) switch
                {
                    0 => ("null", "null"),
                    1 => (ScenarioWriter.Wrong(r, sizeLike ? FuzzSlot.Size : FuzzSlot.Any, () => original), "wrong"),
                    2 => (sizeLike ? r.Pick(ScenarioWriter.NearMaxSizes) : "\"" + r.Pick(ScenarioWriter.LoneSurrogates) + "\"", sizeLike ? "near-2^64" : "surrogate"),
                    3 => ("\"" + r.Pick(ScenarioWriter.LoneSurrogates) + "\"", "surrogate"),
                    4 => (ScenarioWriter.Flip(original), "flip"),
                    5 => (token.Type == JsonTokenType.String && original.Length > 2 ? JsonText.Quote(ScenarioWriter.CaseVariant(r, original[1..^1])) : "\"\"", "case"),
                    6 => (sizeLike ? ScenarioWriter.Size(r, r.Pick(new[] { 16 * ScenarioWriter.M, 1 * ScenarioWriter.T, 64 * ScenarioWriter.M + 1, 0UL })) : r.Chance(30) ? "{\"fill\": \"0xaa\", \"len\": \"0x4000001\"}" : "{\"fill\": \"0xaa\", \"len\": \"0x40000001\"}", "edge"),
                    _ => (token.Owner == "data" ? "{\"pattern\": 3, \"len\": \"0x40000001\"}" : "[]", "other-type"),
                };
                return ((token.Start, token.End, text), "value-" + kind);
            }
            case 1:
            {
                var names = tokens.Where(t => t.IsName).ToList();
                var token = r.Pick(names);
                var text = r.Weighted([35, 25, 25, 15]) switch
                {
                    0 => JsonText.Quote(ScenarioWriter.CaseVariant(r, token.Owner)),
                    1 => JsonText.Quote(token.Owner + "x"),
                    2 => "\"" + token.Owner[..Math.Min(2, token.Owner.Length)] + r.Pick(ScenarioWriter.LoneSurrogates) + "\"",
                    _ => JsonText.Quote(new string('k', ScenarioWriter.LongLength(r))),
                };
                return ((token.Start, token.End, text), "name");
            }
            case 2:
            {
                // Delete or duplicate a whole property (name, value and one comma).
                var names = tokens.Select((t, i) => (t, i)).Where(p => p.t.IsName && p.i + 1 < tokens.Count).ToList();
                var (name, index) = r.Pick(names);
                var value = tokens[index + 1];
                var bytes = seed.Bytes;
                if (r.Bool())
                {
                    var text = Encoding.UTF8.GetString(bytes.AsSpan(name.Start, value.End - name.Start));
                    return ((value.End, value.End, ", " + text), "duplicate");
                }
                var end = value.End;
                var after = end;
                while (after < bytes.Length && bytes[after] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') after++;
                if (after < bytes.Length && bytes[after] == (byte)',') end = after + 1;
                return ((name.Start, end, ""), "delete");
            }
            default:
            {
                w.Hazard = 3;
                w.Edge = 20;
                w.SetVms(seed.Vms.Count > 0 ? seed.Vms : [("vm0", 8 * ScenarioWriter.M)]);
                j.Clear();
                var steps = tokens.Select((t, i) => (t, i)).FirstOrDefault(p => p.t.IsName && p.t.Depth == 1 && p.t.Owner == "steps" && p.i + 1 < tokens.Count);
                if (steps.t is not null && r.Chance(70))
                {
                    j.BeginArray();
                    w.Step(r, j, r.Pick(w.Vocabulary.Ops));
                    j.EndArray();
                    var step = j.ToString()[1..^1];
                    var open = tokens[steps.i + 1];
                    var empty = tokens.Count > steps.i + 2 && tokens[steps.i + 2].Start >= open.End;
                    return ((open.Start + 1, open.Start + 1, empty ? step : step + ", "), "insert-step");
                }
                j.BeginObject();
                w.Options(r, j, 1);
                j.EndObject();
                return ((1, 1, j.ToString()[1..^1] + ", "), "insert-options");
            }
        }
    }

    /// <summary>Byte-level: invalid UTF-8 or a lone surrogate escape inside a string or anywhere, truncation, a brace deleted or doubled, a NUL or BOM.</summary>
    private (string, byte[]) Bytes(FuzzRandom r, JsonText j, ScenarioWriter w)
    {
        byte[] bytes;
        if (r.Bool()) bytes = r.Pick(vocabulary.Seeds).Bytes;
        else
        {
            w.Hazard = 1;
            w.Edge = 5;
            j.Clear();
            w.Document(r, j);
            bytes = j.ToUtf8();
        }
        var kinds = new List<string>();
        for (var n = r.Chance(80) ? 1 : 2; n > 0 && bytes.Length > 2; n--)
        {
            var (mutated, kind) = ByteEdit(r, bytes);
            bytes = mutated;
            kinds.Add(kind);
        }
        return ("bytes:" + string.Join('+', kinds), bytes);
    }

    private static (byte[], string) ByteEdit(FuzzRandom r, byte[] bytes)
    {
        switch (r.Weighted([30, 20, 15, 12, 12, 6, 5]))
        {
            case 0:
            {
                var at = r.Chance(70) ? InsideString(r, bytes) : r.Int(bytes.Length + 1);
                return (Insert(bytes, at, r.Pick(InvalidUtf8)), "invalid-utf8");
            }
            case 1:
                return (Insert(bytes, InsideString(r, bytes), Encoding.ASCII.GetBytes(r.Pick(ScenarioWriter.LoneSurrogates))), "surrogate");
            case 2:
                return (bytes[..r.Int(bytes.Length)], "truncate");
            case 3:
            {
                var braces = Braces(bytes);
                if (braces.Count == 0) return (bytes[..^1], "truncate");
                var at = r.Pick(braces);
                return ([.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + 1)], "delete-brace");
            }
            case 4:
            {
                var braces = Braces(bytes);
                if (braces.Count == 0) return (Insert(bytes, 0, "{"u8.ToArray()), "duplicate-brace");
                var at = r.Pick(braces);
                return (Insert(bytes, at, [bytes[at]]), "duplicate-brace");
            }
            case 5:
                return (Insert(bytes, InsideString(r, bytes), r.Pick(new[] { new byte[] { 0 }, [0x1F], [(byte)'\t'], [(byte)'\n'] })), "control-char");
            default:
            {
                var copy = (byte[])bytes.Clone();
                copy[r.Int(copy.Length)] = (byte)r.Int(256);
                return (r.Chance(30) ? [0xEF, 0xBB, 0xBF, .. copy] : copy, "random-byte");
            }
        }
    }

    /// <summary>An offset just inside some string literal (name or value), found by scanning for quotes.</summary>
    private static int InsideString(FuzzRandom r, byte[] bytes)
    {
        var quotes = new List<int>();
        for (var i = 0; i < bytes.Length; i++)
            if (bytes[i] == (byte)'"' && (i == 0 || bytes[i - 1] != (byte)'\\')) quotes.Add(i);
        if (quotes.Count < 2) return r.Int(bytes.Length + 1);
        var open = quotes[r.Int(quotes.Count / 2) * 2];
        var close = quotes.Find(q => q > open);
        return close > open ? r.Int(open + 1, close) : open + 1;
    }

    private static List<int> Braces(byte[] bytes)
    {
        var at = new List<int>();
        for (var i = 0; i < bytes.Length; i++)
            if (bytes[i] is (byte)'{' or (byte)'}' or (byte)'[' or (byte)']') at.Add(i);
        return at;
    }

    private static byte[] Insert(byte[] bytes, int at, byte[] inserted) => [.. bytes.AsSpan(0, at), .. inserted, .. bytes.AsSpan(at)];

    private static byte[] Apply(byte[] bytes, List<(int Start, int End, string Text)> edits)
    {
        var result = new List<byte>(bytes.Length + 64);
        var at = 0;
        foreach (var (start, end, text) in edits.OrderBy(e => e.Start))
        {
            result.AddRange(bytes.AsSpan(at, start - at));
            result.AddRange(Encoding.UTF8.GetBytes(text));
            at = end;
        }
        result.AddRange(bytes.AsSpan(at));
        return [.. result];
    }

    /// <summary>Documents aimed at issue 8's classes, with random details around them.</summary>
    private static (string, byte[]) Targeted(FuzzRandom r, JsonText j, ScenarioWriter w)
    {
        const ulong M = ScenarioWriter.M;
        var policies = w.Vocabulary.Components["policy"];
        var memories = w.Vocabulary.Components["memory"];
        w.Hazard = 0;
        w.Edge = 0;
        j.Clear();
        j.BeginObject();
        j.Property("name", "\"targeted\"");
        string kind;
        // hugetlb-big-host allocates ~100 MB of frame directories per run: rarer than the rest.
        switch (r.Weighted([20, 15, 20, 4, 15, 10, 16]))
        {
            case 0:
            {
                kind = "convert-past-end";
                var vm = r.Pick(new[] { 4 * M, 8 * M, 16 * M });
                w.Components(r, j, policy: r.Chance(70) ? r.Pick(new[] { "hwpoison-v1", "hwpoison-v2" }) : r.Pick(policies));
                w.Vms(r, j, 1, _ => ScenarioWriter.Size(r, vm), isProtected: r.Chance(80));
                var op = r.Bool() ? "guest.convert" : "vmm.set-attributes";
                var gpa = r.Chance(50) ? 0 : vm - 4 * ScenarioWriter.K;
                var size = r.Pick(new[] { vm + 4 * ScenarioWriter.K, 2 * vm, 16 * M + vm });
                w.Steps(r, j, r.Int(0, 1), (r2, j2) =>
                    w.Step(r2, j2, op, new Dictionary<string, string> { ["vm"] = "\"vm0\"", ["gpa"] = ScenarioWriter.Size(r2, gpa), ["size"] = ScenarioWriter.Size(r2, size) }));
                break;
            }
            case 1:
            {
                kind = "wrapping-sizes";
                string[] pair = r.Pick(new[]
                {
                    new[] { "\"0x8000000000000000\"", "\"0x8000000000000000\"" },
                    ["\"0xfffffffffffff000\"", "\"8K\""],
                    ["\"16777215T\"", "\"16777215T\""],
                    ["\"9223372036854775808\"", "\"9223372036854775808\"", "\"4K\""],
                    [r.Pick(ScenarioWriter.NearMaxSizes)],
                });
                if (r.Chance(30))
                {
                    j.Name("host");
                    j.BeginObject();
                    j.Property("memory", r.Pick(ScenarioWriter.NearMaxSizes));
                    j.EndObject();
                }
                w.Vms(r, j, pair.Length, i => pair[i]);
                w.SetVms(w.CurrentVms.Select(v => (v.Name, 8 * M)));
                w.Steps(r, j, r.Int(1, 3));
                break;
            }
            case 2:
            {
                kind = "tdx-options";
                w.Components(r, j, memory: r.Chance(75) ? r.Pick(new[] { "tdx-ci", "tdx-li", "mktme" }) : r.Pick(memories));
                j.Name("options");
                j.BeginObject();
                var (key, value) = r.Pick(new[]
                {
                    ("tdx.macKey", "null"), ("tdx.mac", "null"), ("tdx.mac", "\"md5\""), ("tdx.macKey", "\"0x00\""), ("tdx.macKey", "\"zz\""),
                    ("tdx.macKey", "\"0x5444582d43692d6d61632d6b657921\""), ("tdx.keyIdBits", "0"), ("tdx.keyIdBits", "64"), ("tdx.keyIdBits", "-1"),
                    ("tdx.privateKeyIds", "0"), ("tdx.privateKeyIds", "1000"), ("tdx.physicalAddressBits", "0"), ("tdx.physicalAddressBits", "100"),
                    ("mktme.keyIdBits", "0"), ("mktme.privateKeyIds", "64"), ("mktme.physicalAddressBits", "12"), ("tdx.partialWriteErratum", "null"),
                    ("hwpoison.maxSharedRanges", "0"), ("hwpoison.maxSharedRanges", "-1"), ("linux.recovery", "null"), ("cost.PageFault", "null"),
                });
                j.Property(key, value);
                j.EndObject();
                w.Vms(r, j, r.Int(1, 2), isProtected: true);
                w.Steps(r, j, r.Int(1, 4));
                break;
            }
            case 3:
            {
                kind = "hugetlb-big-host";
                w.Components(r, j);
                j.Name("host");
                j.BeginObject();
                j.Property("memory", r.Pick(new[] { "\"17T\"", "\"16T\"", "\"16388G\"", "\"32T\"", "\"64T\"", "\"0x100000200000\"" }));
                j.EndObject();
                w.Vms(r, j, r.Int(1, 2), backing: "hugetlb");
                j.Name("steps");
                j.BeginArray();
                for (var n = r.Int(2, 6); n > 0; n--)
                    w.Step(r, j, r.Pick(new[] { "guest.write", "host.write", "host.read", "hw.memory-error", "vm.destroy", "host.fallocate", "host.munmap", "host.exit", "inspect", "host.gup" }));
                j.EndArray();
                break;
            }
            case 4:
            {
                kind = "out-of-range";
                w.Components(r, j);
                w.Vms(r, j, r.Int(1, 2));
                w.Edge = 100;
                w.Steps(r, j, r.Int(1, 3));
                break;
            }
            case 5:
            {
                kind = "option-case";
                w.Components(r, j, policy: r.Chance(60) ? r.Pick(new[] { "hwpoison-v1", "hwpoison-v2" }) : null);
                j.Name("options");
                j.BeginObject();
                var option = r.Pick(w.Vocabulary.Options);
                var section = r.Chance(60) ? ScenarioWriter.CaseVariant(r, option.Section) : option.Section;
                var name = r.Chance(50) ? option.Name.ToLowerInvariant() : char.ToUpperInvariant(option.Name[0]) + option.Name[1..];
                if (r.Chance(25))
                {
                    j.Name(section);
                    j.BeginObject();
                    j.Name(name);
                    w.OptionValue(r, j, option);
                    j.EndObject();
                }
                else
                {
                    j.Name(section + "." + name);
                    w.OptionValue(r, j, option);
                }
                j.EndObject();
                w.Vms(r, j, 1);
                w.Steps(r, j, r.Int(1, 2));
                break;
            }
            default:
            {
                kind = "unused-properties";
                w.Components(r, j);
                w.Vms(r, j, 1);
                var vm = w.CurrentVms[0];
                j.Name("steps");
                j.BeginArray();
                var extra = new Dictionary<string, string>();
                foreach (var (property, value) in new[] { ("advice", "\"DONTNEED\""), ("bit", "3"), ("to", "\"shared\""), ("pages", "2"), ("mode", "[\"KEEP_SIZE\"]"), ("consumed", "true"), ("requester", "\"kvm\""), ("shared", "true"), ("private", "true") })
                    if (r.Chance(40)) extra[property] = value;
                if (extra.Count == 0) extra["advice"] = "\"DONTNEED\"";
                extra["vm"] = JsonText.Quote(vm.Name);
                extra["gpa"] = "\"0x1000\"";
                w.Step(r, j, r.Pick(w.Vocabulary.Ops), extra);
                j.EndArray();
                break;
            }
        }
        j.EndObject();
        return ("targeted:" + kind, j.ToUtf8());
    }

    /// <summary>The expensive classes: a host of 16384T and more, conversions 1T–64T wide under hwpoison, several 1 GiB data values.</summary>
    private static (string, byte[]) Heavy(FuzzRandom r, JsonText j, ScenarioWriter w)
    {
        w.Hazard = 0;
        w.Edge = 0;
        j.Clear();
        j.BeginObject();
        j.Property("name", "\"heavy\"");
        string kind;
        switch (r.Int(3))
        {
            case 0:
            {
                kind = "huge-host";
                w.Components(r, j);
                j.Name("host");
                j.BeginObject();
                j.Property("memory", r.Pick(new[] { "\"16384T\"", "\"4096T\"", "\"65536T\"", "\"8192T\"", "\"0x400000000000000\"" }));
                j.EndObject();
                w.Vms(r, j, 1);
                w.Steps(r, j, r.Int(1, 2));
                break;
            }
            case 1:
            {
                kind = "wide-convert";
                w.Components(r, j, policy: r.Pick(new[] { "hwpoison-v1", "hwpoison-v2" }));
                var vm = r.Pick(new[] { "\"1T\"", "\"64T\"", "\"8M\"", "\"4T\"" });
                w.Vms(r, j, 1, _ => vm, isProtected: true);
                w.SetVms([("vm0", 8 * ScenarioWriter.M)]);
                var width = r.Pick(new[] { "\"1T\"", "\"4T\"", "\"16T\"", "\"64T\"" });
                var to = r.Bool() ? "\"shared\"" : "\"private\"";
                w.Steps(r, j, 0, (r2, j2) =>
                    w.Step(r2, j2, "guest.convert", new Dictionary<string, string> { ["vm"] = "\"vm0\"", ["gpa"] = "0", ["size"] = width, ["to"] = to }));
                break;
            }
            default:
            {
                kind = "huge-data";
                w.Vms(r, j, 1, _ => "\"64M\"");
                var count = r.Int(2, 4);
                j.Name("steps");
                j.BeginArray();
                for (var i = 0; i < count; i++)
                {
                    var len = r.Pick(new[] { "1073741824", "\"1G\"", "\"0x40000000\"" });
                    var op = r.Pick(new[] { "guest.write", "host.write", "host.pwrite", "kernel.write" });
                    var values = new Dictionary<string, string> { ["vm"] = "\"vm0\"", ["data"] = $"{{\"fill\": \"0xaa\", \"len\": {len}}}" };
                    values[op == "host.pwrite" ? "offset" : "gpa"] = "\"0x1000\"";
                    w.Step(r, j, op, values);
                }
                j.EndArray();
                break;
            }
        }
        j.EndObject();
        return ("heavy:" + kind, j.ToUtf8());
    }
}
