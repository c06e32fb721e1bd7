namespace Vmm.Abstractions;

/// <summary>The last reference to <paramref name="Pfn"/> went away.</summary>
public readonly record struct FreedFrame(Pfn Pfn);

/// <summary>memory_failure() is about to handle a real error on <paramref name="Pfn"/>.</summary>
public readonly record struct FailedFrame(Pfn Pfn, bool ActionRequired);

/// <summary>A frame's end of life: free (free_pages_prepare) and real memory errors (memory_failure).</summary>
public interface IFrameLifecyclePolicy
{
    /// <summary>Kernel default: a PG_hwp frame is leaked (K24).</summary>
    FreeAction OnFree(FreedFrame frame) => FreeAction.Default;

    void OnMemoryFailure(FailedFrame frame) { }
}
