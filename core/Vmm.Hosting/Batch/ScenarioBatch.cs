using System.Diagnostics;
using System.Globalization;

namespace Vmm.Hosting;

/// <summary>
/// Runs many scenario files as <c>vmm run</c> does: expand the paths, validate every file, then (unless something is
/// invalid and <see cref="BatchOptions.KeepGoing"/> is off) run each valid one on its own worker thread under the time
/// limit, and tally the lot in a <see cref="RunReport"/>. The events are raised on the thread that called
/// <see cref="Run(BatchPlan)"/>, so a front end may update its display from them.
/// </summary>
public sealed class ScenarioBatch
{
    /// <summary>Like the main thread's 8 MiB on Linux, so a scenario runs on its worker as it would on the main thread.</summary>
    private const int WorkerStackSize = 8 << 20;

    private readonly VmmHost _host;

    public ScenarioBatch(VmmHost host, BatchOptions? options = null)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        Options = options ?? new BatchOptions();
    }

    public BatchOptions Options { get; }

    /// <summary>How often <see cref="ScenarioWaiting"/> is raised while a scenario runs.</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A scenario is about to run.</summary>
    public event Action<BatchItem>? ScenarioStarting;

    /// <summary>Every <see cref="Tick"/> while a scenario runs, with the time since it started.</summary>
    public event Action<BatchItem, TimeSpan>? ScenarioWaiting;

    /// <summary>A scenario ended; <see cref="BatchEntry.Message"/> is set when it did not run to its end.</summary>
    public event Action<BatchItem, BatchEntry>? ScenarioFinished;

    /// <summary>Expands and validates; nothing runs. A path that does not exist throws, or with KeepGoing is one of <see cref="BatchPlan.Invalid"/>.</summary>
    public BatchPlan Prepare(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var invalid = new List<Diagnostic>();
        var files = new List<string>();
        foreach (var path in paths)
        {
            try
            {
                files.AddRange(VmmHost.ExpandPaths([path]));
            }
            catch (InvalidScenarioException e) when (Options.KeepGoing)
            {
                invalid.Add(e.Diagnostic);
            }
        }

        var valid = new List<ValidationResult>();
        var warnings = new List<Diagnostic>();
        var broken = new List<InternalError>();
        foreach (var file in files)
        {
            try
            {
                var validation = _host.Validate(file, Options.Overrides);
                warnings.AddRange(validation.Warnings);
                if (validation.Error is { } error) invalid.Add(error);
                else valid.Add(validation);
            }
            catch (Exception e)
            {
                // A bug met while validating one file is that file's internal error, not the whole batch's.
                broken.Add(new InternalError(file, e.ToString()));
            }
        }
        return new BatchPlan(files, valid, warnings, invalid, broken);
    }

    /// <summary><see cref="Prepare"/>, then <see cref="Run(BatchPlan)"/>.</summary>
    public RunReport Run(IEnumerable<string> paths) => Run(Prepare(paths));

    /// <summary>Runs the plan's valid scenarios one after another; none when the plan has problems and KeepGoing is off (<see cref="RunReport.Ran"/> false).</summary>
    public RunReport Run(BatchPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.HasProblems && !Options.KeepGoing)
            return new RunReport([], plan.Invalid, [], plan.Broken, Ran: false);

        var entries = new List<BatchEntry>(plan.Valid.Count);
        for (var i = 0; i < plan.Valid.Count; i++)
        {
            var scenario = plan.Valid[i];
            var item = new BatchItem(i + 1, plan.Valid.Count, scenario.File);
            ScenarioStarting?.Invoke(item);
            var entry = RunOne(scenario, elapsed => ScenarioWaiting?.Invoke(item, elapsed));
            ScenarioFinished?.Invoke(item, entry);
            entries.Add(entry);
        }
        return new RunReport(
            entries.Where(e => e.Report is not null).Select(e => e.Report!).ToList(),
            plan.Invalid.Concat(entries.Where(e => e.Error is not null).Select(e => e.Error!)).ToList(),
            entries.Where(e => e.TimedOut is not null).Select(e => e.TimedOut!).ToList(),
            plan.Broken.Concat(entries.Where(e => e.InternalError is not null).Select(e => e.InternalError!)).ToList());
    }

    /// <summary>
    /// Runs one scenario on a background worker. At the limit its token is cancelled, which stops it before its next step; a
    /// step that has not returned by the limit plus the grace is left running (a background thread does not keep the
    /// process alive) and reported as timed out all the same. <paramref name="waiting"/> sees the elapsed time every tick.
    /// </summary>
    private BatchEntry RunOne(ValidationResult scenario, Action<TimeSpan> waiting)
    {
        var limit = Options.Timeout;
        var cancel = new CancellationTokenSource();
        var steps = new StepCount();
        BatchEntry? finished = null;
        var worker = new Thread(() => finished = RunOnWorker(scenario, limit, steps, cancel.Token), WorkerStackSize)
        {
            IsBackground = true,
            Name = $"vmm run {Path.GetFileName(scenario.File)}",
        };
        var clock = Stopwatch.StartNew();
        worker.Start();
        while (!worker.Join(Tick))
        {
            waiting(clock.Elapsed);
            if (limit is not { } stop || clock.Elapsed < stop) continue;
            // Cancelled from here rather than by CancelAfter's timer, which a busy thread pool can delay.
            cancel.Cancel();
            if (clock.Elapsed >= stop + Options.TimeoutGrace) return TimedOutEntry(scenario, stop, steps.Done, stillRunning: true);
        }
        cancel.Dispose();
        return finished!;
    }

    private BatchEntry RunOnWorker(ValidationResult scenario, TimeSpan? limit, StepCount steps, CancellationToken cancellation)
    {
        try
        {
            return new BatchEntry(scenario.File, Report: Reports.Of(_host.RunValidated(scenario, Options.Overrides, _ => steps.Add(), cancellation)));
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested && limit is { } stop)
        {
            return TimedOutEntry(scenario, stop, steps.Done, stillRunning: false);
        }
        catch (InvalidScenarioException e)
        {
            return new BatchEntry(scenario.File, Error: e.Diagnostic);
        }
        catch (Exception e)
        {
            // Everything, out-of-memory too: an exception that escapes a worker thread would end the whole process.
            return new BatchEntry(scenario.File, InternalError: new InternalError(scenario.File, e.ToString()));
        }
    }

    private BatchEntry TimedOutEntry(ValidationResult validated, TimeSpan limit, int stepsDone, bool stillRunning)
    {
        var scenario = validated.Scenario!;
        var total = scenario.Steps.Count;
        var where = stepsDone >= total
            ? "after its last step"
            : stillRunning
                ? $"step {scenario.Steps[stepsDone].Index} ({scenario.Steps[stepsDone].Op.Name}){(stepsDone == 0 ? " or the setup before it" : "")} did not return and goes on in the background until vmm exits"
                : $"step {scenario.Steps[stepsDone].Index} ({scenario.Steps[stepsDone].Op.Name}) was next";
        var seconds = limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        var setting = Options.TimeoutSettingName;
        var message = $"{scenario.File}: stopped after {seconds} s ({setting}) with {stepsDone} of {total} steps done; {where}; raise {setting}, or give {setting} 0 for no limit";
        return new BatchEntry(scenario.File, TimedOut: new TimedOutScenario(scenario.File, scenario.Name, limit, stepsDone, total, message));
    }

    /// <summary>Steps a worker has finished, read by the waiting thread.</summary>
    private sealed class StepCount
    {
        private int _done;

        public int Done => Volatile.Read(ref _done);

        public void Add() => Interlocked.Increment(ref _done);
    }
}
