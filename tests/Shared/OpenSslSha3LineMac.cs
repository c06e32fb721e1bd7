using System.Security.Cryptography;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;

namespace Vmm.Tests.Shared;

/// <summary>
/// The former tdx-ci "sha3" MAC, one OpenSSL KMAC128 call per line: the oracle the managed
/// <see cref="Sha3LineMac"/> must match bit for bit, and the benchmarks' baseline.
/// </summary>
internal sealed class OpenSslSha3LineMac(byte[] macKey) : ILineMac
{
    private static readonly byte[] Customization = "TDX Ci line MAC"u8.ToArray();

    public static bool IsSupported => Kmac128.IsSupported;

    public string Name => "sha3 (KMAC128 via OpenSSL)";

    public uint Compute(ReadOnlySpan<byte> line, ulong physicalAddress, KeyId key, bool owner)
    {
        Span<byte> input = stackalloc byte[PageGeometry.LineSize + 16];
        line[..PageGeometry.LineSize].CopyTo(input);
        LineMacs.WriteTweak(input[PageGeometry.LineSize..], physicalAddress, key, owner);
        Span<byte> tag = stackalloc byte[4];
        Kmac128.HashData(macKey, input, tag, Customization);
        return BitConverter.ToUInt32(tag) & LineMacs.Mask28;
    }
}
