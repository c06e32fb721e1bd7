using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>Counts what every input did, by verdict, failure class and generator class, keeping the shortest input of each failure class.</summary>
internal sealed partial class FuzzSurvey
{
    private readonly ConcurrentDictionary<string, FailureClass> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long[]> _generators = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _rejections = new(StringComparer.Ordinal);
    private readonly int[] _verdicts = new int[Enum.GetValues<VerdictKind>().Length];
    private int _notRun;
    private int _slow;

    /// <summary>A passing input slower than this is counted as slow (reported, not failed).</summary>
    public static readonly TimeSpan Slow = TimeSpan.FromSeconds(2);

    public int Tried => _verdicts.Sum();

    public int Failed => _verdicts[(int)VerdictKind.Escaped] + _verdicts[(int)VerdictKind.BadMessage] + _verdicts[(int)VerdictKind.Hung];

    public IReadOnlyCollection<FailureClass> Failures => _failures.Values.OrderByDescending(f => f.Count).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();

    public void NotRun() => Interlocked.Increment(ref _notRun);

    public void Record(FuzzInput input, Verdict verdict)
    {
        Interlocked.Increment(ref _verdicts[(int)verdict.Kind]);
        var generator = _generators.GetOrAdd(GeneratorKey(input.Class), _ => new long[4]);
        Interlocked.Increment(ref generator[verdict.IsFailure ? 2 : verdict.Kind == VerdictKind.Ran ? 0 : 1]);
        Interlocked.Add(ref generator[3], (long)verdict.Elapsed.TotalMilliseconds);
        if (!verdict.IsFailure)
        {
            if (verdict.Elapsed > Slow) Interlocked.Increment(ref _slow);
            if (verdict.Kind == VerdictKind.Rejected) _rejections.AddOrUpdate(RejectionKey(verdict.Detail), 1, (_, n) => n + 1);
            return;
        }
        var failure = _failures.GetOrAdd(verdict.Class, name => new FailureClass(name, verdict.Kind));
        failure.Add(input, verdict);
    }

    /// <summary>The message without its location, quoted text and numbers: "unknown op \"…\"; use one of: …".</summary>
    private static string RejectionKey(string text)
    {
        var message = LocationPrefix().Replace(text, "", 1);
        message = QuotedText().Replace(message, "\"…\"");
        message = Digits().Replace(message, "N");
        return message.Length > 120 ? message[..120] : message;
    }

    [GeneratedRegex(@"^[^:]*(:\d+:\d+)?: ")]
    private static partial Regex LocationPrefix();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex QuotedText();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();

    /// <summary>"generated+hazard", "bytes:invalid-utf8", "targeted:tdx-options": the generator's class without the list of edits.</summary>
    private static string GeneratorKey(string name) =>
        name.StartsWith("seed-file+tokens", StringComparison.Ordinal) ? "seed-file+tokens"
        : name.StartsWith("bytes:", StringComparison.Ordinal) ? "bytes:" + name["bytes:".Length..].Split('+')[0]
        : name;

    /// <summary>The one-line summary: inputs tried, and how many ran, were rejected, escaped or hung.</summary>
    public string Summary(TimeSpan elapsed, int threads) => string.Create(CultureInfo.InvariantCulture,
        $"scenario fuzz: {Tried} inputs tried in {elapsed.TotalSeconds:0.0} s on {threads} threads: {_verdicts[(int)VerdictKind.Ran]} ran, " +
        $"{_verdicts[(int)VerdictKind.Rejected]} rejected (ScenarioException), {_verdicts[(int)VerdictKind.Escaped]} escaped, " +
        $"{_verdicts[(int)VerdictKind.BadMessage]} bad messages, {_verdicts[(int)VerdictKind.Hung]} hung; {_notRun} not run, {_slow} slow (> {Slow.TotalSeconds:0} s)");

    public string Report(TimeSpan elapsed, int threads, bool generators)
    {
        var text = new StringBuilder();
        text.AppendLine(Summary(elapsed, threads));
        foreach (var failure in Failures)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- {failure.Count} × {failure.Kind}: {failure.Name}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  generators: {string.Join(", ", failure.Generators.OrderByDescending(g => g.Value).Select(g => $"{g.Key} {g.Value}"))}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  shortest: {failure.Shortest!.Class}, seed {failure.Shortest.Seed} (VMM_FUZZ_SEED={failure.Shortest.Seed} VMM_FUZZ_COUNT=1), {failure.Shortest.Bytes.Length} bytes:");
            text.AppendLine("    " + failure.Shortest.Printable(600).ReplaceLineEndings(Environment.NewLine + "    "));
            text.AppendLine("  " + FirstLines(failure.ShortestVerdict!.Detail, 4).ReplaceLineEndings(Environment.NewLine + "  "));
        }
        if (generators)
        {
            text.AppendLine("commonest rejections:");
            foreach (var (message, count) in _rejections.OrderByDescending(r => r.Value).Take(25))
                text.AppendLine(CultureInfo.InvariantCulture, $"  {count} {message}");
            text.AppendLine("by generator class: ran / rejected / failed, seconds spent:");
            foreach (var (name, counts) in _generators.OrderBy(g => g.Key, StringComparer.Ordinal))
                text.AppendLine(CultureInfo.InvariantCulture, $"  {name}: {counts[0]} / {counts[1]} / {counts[2]}, {counts[3] / 1000.0:0.0} s");
        }
        return text.ToString();
    }

    /// <summary>Writes the shortest input of each failure class to <paramref name="directory"/> (.json when valid UTF-8, else .bin) with an index.</summary>
    public void WriteShortest(string directory)
    {
        Directory.CreateDirectory(directory);
        var index = new StringBuilder();
        var n = 0;
        foreach (var failure in Failures)
        {
            var input = failure.Shortest!;
            var utf8 = IsUtf8(input.Bytes);
            var file = $"{++n:00}.{(utf8 ? "json" : "bin")}";
            File.WriteAllBytes(Path.Combine(directory, file), input.Bytes);
            index.AppendLine(CultureInfo.InvariantCulture, $"{file}\t{failure.Count}\t{failure.Name}\t{input.Class}\t{input.Seed}");
        }
        File.WriteAllText(Path.Combine(directory, "index.tsv"), index.ToString());
    }

    public static bool IsUtf8(byte[] bytes)
    {
        try
        {
            _ = new UTF8Encoding(false, true).GetCharCount(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static string FirstLines(string text, int count) => string.Join(Environment.NewLine, text.Split('\n').Take(count).Select(l => l.TrimEnd('\r')));

    /// <summary>One failure class: how often, which generators found it, and its shortest input.</summary>
    internal sealed class FailureClass(string name, VerdictKind kind)
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, int> _generators = new(StringComparer.Ordinal);

        public string Name { get; } = name;
        public VerdictKind Kind { get; } = kind;
        public int Count { get; private set; }
        public FuzzInput? Shortest { get; private set; }
        public Verdict? ShortestVerdict { get; private set; }

        public IReadOnlyDictionary<string, int> Generators
        {
            get
            {
                lock (_lock) return new Dictionary<string, int>(_generators, StringComparer.Ordinal);
            }
        }

        public void Add(FuzzInput input, Verdict verdict)
        {
            lock (_lock)
            {
                Count++;
                var key = GeneratorKey(input.Class);
                _generators[key] = _generators.GetValueOrDefault(key) + 1;
                if (Shortest is null || input.Bytes.Length < Shortest.Bytes.Length)
                {
                    Shortest = input;
                    ShortestVerdict = verdict;
                }
            }
        }
    }
}
