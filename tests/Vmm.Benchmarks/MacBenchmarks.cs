using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Tests.Shared;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace Vmm.Benchmarks;

/// <summary>
/// Cost of one tdx-ci line MAC (64 bytes plus the address/KeyID/owner tweak) for each implementation.
/// Aes: against the floor, 5 AES-128 block encryptions with AES-NI and no tweak or span handling.
/// Sha3: the managed KMAC128 against the one-shot OpenSSL call per line it replaced (same values).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class MacBenchmarks
{
    /// <summary>Distinct lines per invocation (16 KiB, L1-resident); BenchmarkDotNet divides by it.</summary>
    private const int Lines = 256;
    private static readonly KeyId Key = new(40);

    private readonly byte[] _lines = new byte[Lines * PageGeometry.LineSize];
    private readonly Vector128<byte>[] _roundKeys = new Vector128<byte>[11];
    private AesLineMac _aesNi = null!;
    private AesLineMac _portable = null!;
    private Sha3LineMac _sha3 = null!;
    private OpenSslSha3LineMac _sha3OpenSsl = null!;

    [GlobalSetup]
    public void Setup()
    {
        if (!X86Aes.IsSupported) throw new InvalidOperationException("MacBenchmarks needs AES-NI");
        new Random(42).NextBytes(_lines);
        var random = new Random(7);
        var roundKey = new byte[16];
        for (var i = 0; i < _roundKeys.Length; i++)
        {
            random.NextBytes(roundKey);
            _roundKeys[i] = Vector128.Create(roundKey); // AES-NI timing does not depend on the key schedule's values
        }
        var key = LineMacs.ParseKey(new TdxOptions().MacKey, "tdx.macKey");
        _aesNi = new AesLineMac(key);
        _portable = new AesLineMac(key, forcePortable: true);
        _sha3 = new Sha3LineMac(key);
        _sha3OpenSsl = new OpenSslSha3LineMac(key);
        if (Sha3Managed() != Sha3OpenSsl()) throw new InvalidOperationException("the managed and OpenSSL KMAC128 MACs differ");
        if (!_aesNi.UsesAesNi || _portable.UsesAesNi) throw new InvalidOperationException("expected one AES-NI and one portable AesLineMac");
        if (AesLineMacAesNi() != AesLineMacPortable()) throw new InvalidOperationException("the AES-NI and portable MACs differ");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _aesNi.Dispose();
        _portable.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Aes")]
    public uint RawAesNiLoop()
    {
        var keys = _roundKeys;
        var sum = 0u;
        for (var line = 0; line < Lines; line++)
        {
            var state = Vector128.CreateScalar((ulong)line).AsByte();
            state = Encrypt(state, keys);
            for (var block = 0; block < 4; block++)
                state = Encrypt(state ^ Vector128.Create<byte>(_lines.AsSpan(line * PageGeometry.LineSize + block * 16, 16)), keys);
            sum ^= state.AsUInt32().ToScalar();
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Aes")]
    public uint AesLineMacAesNi() => MacAll(_aesNi);

    [Benchmark(OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Aes")]
    public uint AesLineMacPortable() => MacAll(_portable);

    [Benchmark(Baseline = true, OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Sha3")]
    public uint Sha3OpenSsl() => MacAll(_sha3OpenSsl);

    [Benchmark(OperationsPerInvoke = Lines)]
    [BenchmarkCategory("Sha3")]
    public uint Sha3Managed() => MacAll(_sha3);

    private uint MacAll(ILineMac mac)
    {
        var sum = 0u;
        for (var line = 0; line < Lines; line++)
            sum ^= mac.Compute(_lines.AsSpan(line * PageGeometry.LineSize, PageGeometry.LineSize), (ulong)line * PageGeometry.LineSize, Key, owner: true);
        return sum;
    }

    private static Vector128<byte> Encrypt(Vector128<byte> block, Vector128<byte>[] keys)
    {
        var state = block ^ keys[0];
        for (var round = 1; round < 10; round++) state = X86Aes.Encrypt(state, keys[round]);
        return X86Aes.EncryptLast(state, keys[10]);
    }
}
