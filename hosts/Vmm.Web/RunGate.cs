using Microsoft.Extensions.Options;

namespace Vmm.Web;

/// <summary>
/// Bounds engine work: at most <see cref="WebOptions.MaxConcurrentRuns"/> at once (one more is refused at once, never
/// queued) and each stopped after <see cref="WebOptions.RunTimeout"/>. A run that does not stop when told holds its
/// slot until it ends, so a stuck step can never multiply.
/// </summary>
public sealed class RunGate(IOptions<WebOptions> options)
{
    /// <summary>How long past the time limit a run that ignores cancellation is waited for before the request gives up on it.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _slots = new(Math.Max(1, options.Value.MaxConcurrentRuns));

    public TimeSpan Timeout { get; } = options.Value.RunTimeout;

    /// <summary>
    /// Runs <paramref name="work"/> on a worker thread with a token that the time limit cancels; when every slot is taken
    /// it throws at once (not in the task), so a caller can refuse before it answers anything.
    /// </summary>
    public Task<T> Run<T>(Func<CancellationToken, T> work, CancellationToken aborted = default)
    {
        if (!_slots.Wait(0, CancellationToken.None))
            throw new WebProblemException(StatusCodes.Status503ServiceUnavailable, $"the server is already running {options.Value.MaxConcurrentRuns} scenarios or comparisons (Vmm:MaxConcurrentRuns); try again in a few seconds");
        return RunHeld(work, aborted);
    }

    private async Task<T> RunHeld<T>(Func<CancellationToken, T> work, CancellationToken aborted)
    {
        var limit = new CancellationTokenSource(Timeout);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, aborted);
        var task = Task.Run(() =>
        {
            try
            {
                return work(linked.Token);
            }
            finally
            {
                _slots.Release();
                linked.Dispose();
                limit.Dispose();
            }
        }, CancellationToken.None);
        try
        {
            return await task.WaitAsync(Timeout + Grace, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException || (e is OperationCanceledException && !aborted.IsCancellationRequested))
        {
            throw new WebProblemException(StatusCodes.Status503ServiceUnavailable, $"the run took longer than {Timeout.TotalSeconds:0.#} s (Vmm:RunTimeoutSeconds) and was stopped; make it smaller");
        }
    }
}
