using System.Diagnostics;
using System.Reflection;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

public enum VerdictKind
{
    /// <summary>Validated and ran to the end (whether its expectations held does not matter).</summary>
    Ran,
    /// <summary>Rejected as bad input: one ScenarioException naming the file, on one line.</summary>
    Rejected,
    /// <summary>An exception other than ScenarioException escaped: a bug (the CLI's exit 3).</summary>
    Escaped,
    /// <summary>A ScenarioException that does not name the file, spans lines, or echoes a whole huge value.</summary>
    BadMessage,
    /// <summary>Still running after the per-input time limit.</summary>
    Hung,
}

/// <summary>What one input did. <see cref="Class"/> groups failures: exception type and the Vmm method it escaped from, or where it hung.</summary>
public sealed record Verdict(VerdictKind Kind, string Class, string Detail, TimeSpan Elapsed)
{
    public bool IsFailure => Kind is VerdictKind.Escaped or VerdictKind.BadMessage or VerdictKind.Hung;

    public override string ToString() => $"{Kind} ({Class}) after {Elapsed.TotalSeconds:0.00} s: {Detail}";
}

/// <summary>
/// The property under test, as the CLI runs a file: <see cref="VmmHost.Validate"/>, then <see cref="VmmHost.Run(Scenario, RunOverrides?, Action{StepResult}?)"/>
/// when it validated. The only exception allowed out is <see cref="ScenarioException"/>, whose text names the file on
/// one line. Each input runs on its own thread and is given <see cref="Limit"/>; a thread still running then is left
/// behind (it cannot be stopped) and counted in <see cref="Stuck"/> until it ends.
/// </summary>
public sealed class ScenarioOracle(VmmHost host, TimeSpan limit)
{
    /// <summary>Longest ScenarioException message accepted: enough for a list of every op, not for a 100 KB echo of the input.</summary>
    public const int MaxMessageLength = 1000;

    [ThreadStatic] private static Worker? t_worker;
    private int _stuck;
    private int _hangs;

    public TimeSpan Limit { get; } = limit;

    /// <summary>Inputs that passed the limit and whose thread is still running.</summary>
    public int Stuck => Volatile.Read(ref _stuck);

    /// <summary>Inputs that passed the limit so far.</summary>
    public int Hangs => Volatile.Read(ref _hangs);

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> and checks that file.</summary>
    public Verdict Check(byte[] bytes, string path)
    {
        File.WriteAllBytes(path, bytes);
        var verdict = Check(path);
        if (verdict.Kind != VerdictKind.Hung) File.Delete(path);
        return verdict;
    }

    /// <summary>Validates and runs the scenario file at <paramref name="path"/> within <see cref="Limit"/>.</summary>
    public Verdict Check(string path)
    {
        var progress = new Progress();
        var clock = Stopwatch.StartNew();
        var worker = t_worker ??= new Worker();
        if (worker.TryRun(() => Evaluate(path, progress, clock), Limit, () => Interlocked.Decrement(ref _stuck), out var verdict)) return verdict!;
        t_worker = null;
        Interlocked.Increment(ref _hangs);
        Interlocked.Increment(ref _stuck);
        var phase = progress.Describe();
        return new Verdict(VerdictKind.Hung, "hang in " + phase.Class, $"still running after {Limit.TotalSeconds:0} s, in {phase.Detail}", clock.Elapsed);
    }

    private Verdict Evaluate(string path, Progress progress, Stopwatch clock)
    {
        try
        {
            var validation = host.Validate(path);
            if (validation.Error is { } error) return Judge(error, null, path, clock);
            progress.Scenario = validation.Scenario;
            host.Run(validation, null, step => progress.Completed = step.Index);
            return new Verdict(VerdictKind.Ran, "ran", "", clock.Elapsed);
        }
        catch (InvalidScenarioException e)
        {
            return Judge(e.Diagnostic, e, path, clock);
        }
        catch (Exception e)
        {
            var phase = progress.Describe();
            return new Verdict(VerdictKind.Escaped, $"{e.GetType().Name} in {Where(e)}", $"{e.GetType().FullName} in {phase.Detail}: {FirstLine(e.Message)}{Environment.NewLine}{e.StackTrace}", clock.Elapsed);
        }
    }

    private static Verdict Judge(Diagnostic e, Exception? thrown, string path, Stopwatch clock)
    {
        var text = e.ToString();
        var problem =
            e.File != path || !text.StartsWith(path, StringComparison.Ordinal) ? "does not name the file"
            : text.Contains('\n', StringComparison.Ordinal) || text.Contains('\r', StringComparison.Ordinal) ? "spans more than one line"
            : e.Message.Length > MaxMessageLength ? $"is longer than {MaxMessageLength} characters"
            : null;
        var shown = text.Length > 300 ? text[..300] + $"... ({text.Length} characters)" : text;
        return problem is null
            ? new Verdict(VerdictKind.Rejected, "rejected", shown, clock.Elapsed)
            : new Verdict(VerdictKind.BadMessage, $"ScenarioException that {problem}, from {(thrown is null ? "Validate" : Where(thrown))}", shown, clock.Elapsed);
    }

    /// <summary>The first Vmm method on the exception's stack: the code that threw it or let it out of a library.</summary>
    public static string Where(Exception e)
    {
        var frames = new StackTrace(e, false).GetFrames();
        string? outside = null;
        foreach (var frame in frames)
        {
            var method = frame.GetMethod();
            if (method?.DeclaringType is null) continue;
            var name = Name(method);
            if (name.StartsWith("Vmm.", StringComparison.Ordinal) && !name.StartsWith("Vmm.Hosting.Tests.", StringComparison.Ordinal))
                return name;
            outside ??= name;
        }
        return outside ?? "unknown";
    }

    /// <summary>Namespace.Type.Method with compiler-generated closures, iterators and lambdas folded into the method that wrote them.</summary>
    private static string Name(MethodBase method)
    {
        var type = method.DeclaringType!;
        var methodName = Unmangle(method.Name);
        while (type.Name.StartsWith('<') && type.DeclaringType is not null)
        {
            if (methodName is "MoveNext" or "Invoke") methodName = Unmangle(type.Name);
            type = type.DeclaringType;
        }
        return $"{type.FullName?.Replace('+', '.')}.{methodName}";
    }

    private static string Unmangle(string name) =>
        name.StartsWith('<') && name.IndexOf('>', StringComparison.Ordinal) is var end and > 1 ? name[1..end] : name;

    private static string FirstLine(string text)
    {
        var newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }

    /// <summary>
    /// A background thread that runs one input at a time for the thread that owns it (starting a thread per input
    /// would cost as much as most inputs). Past the limit it is abandoned, and says so when its input ends.
    /// </summary>
    private sealed class Worker
    {
        private const int Running = 0, Abandoned = 1, Finished = 2;
        private readonly SemaphoreSlim _start = new(0);
        private readonly SemaphoreSlim _done = new(0);
        private Func<Verdict>? _job;
        private Action? _onLateEnd;
        private Verdict? _result;
        private int _state;

        public Worker() => new Thread(Loop) { IsBackground = true, Name = "scenario fuzz input" }.Start();

        public bool TryRun(Func<Verdict> job, TimeSpan limit, Action onLateEnd, out Verdict? result)
        {
            _job = job;
            _onLateEnd = onLateEnd;
            _start.Release();
            if (!_done.Wait(limit))
            {
                if (Interlocked.CompareExchange(ref _state, Abandoned, Running) == Running)
                {
                    result = null;
                    return false;
                }
                // It finished just as the limit passed: its release is on the way.
                _done.Wait();
            }
            result = _result;
            _state = Running;
            return true;
        }

        private void Loop()
        {
            while (true)
            {
                _start.Wait();
                _result = _job!();
                if (Interlocked.CompareExchange(ref _state, Finished, Running) == Abandoned)
                {
                    _onLateEnd!();
                    return;
                }
                _done.Release();
            }
        }
    }

    /// <summary>How far an input got: parse/validate, or the run with the last step completed.</summary>
    private sealed class Progress
    {
        private volatile Scenario? _scenario;
        private volatile int _completed = -1;

        public Scenario? Scenario
        {
            get => _scenario;
            set => _scenario = value;
        }

        public int Completed
        {
            get => _completed;
            set => _completed = value;
        }

        public (string Class, string Detail) Describe()
        {
            var scenario = Scenario;
            if (scenario is null) return ("Validate", "Validate (parse and options)");
            var next = Completed + 1;
            if (next >= scenario.Steps.Count) return ("Run after the last step", "Run, after the last step");
            var op = scenario.Steps[next].Op.Name;
            return next == 0
                ? ($"Run: machine setup or {op}", $"Run: machine setup or step 0 ({op})")
                : ($"Run: {op}", $"Run: step {next} ({op})");
        }
    }
}
